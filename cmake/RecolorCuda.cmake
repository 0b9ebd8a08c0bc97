# Decides whether the CUDA backend is built (RECOLOR_CUDA = AUTO | ON | OFF) and, if so, defines
# recolor::cuda: the header-only library plus cuDNN, cuBLAS and the CUDA runtime.
set(RECOLOR_HAVE_CUDA OFF)
if(NOT RECOLOR_CUDA STREQUAL "OFF")
    include(CheckLanguage)
    check_language(CUDA)
    find_package(CUDAToolkit QUIET)
    set(_cudnn_hints ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_TARGET_DIR}/lib ${CUDAToolkit_TARGET_DIR}/lib64)
    find_path(CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
    find_library(CUDNN_LIBRARY cudnn HINTS ${_cudnn_hints})
    if(CMAKE_CUDA_COMPILER AND CUDAToolkit_FOUND AND CUDNN_INCLUDE_DIR AND CUDNN_LIBRARY
       AND TARGET CUDA::cublas)
        set(RECOLOR_HAVE_CUDA ON)
    elseif(RECOLOR_CUDA STREQUAL "ON")
        message(FATAL_ERROR "RECOLOR_CUDA=ON but nvcc, cuDNN or cuBLAS was not found "
                            "(nvcc: '${CMAKE_CUDA_COMPILER}', cudnn: '${CUDNN_LIBRARY}')")
    endif()
endif()

if(RECOLOR_HAVE_CUDA)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
        # sm_90 (H100, H200) as machine code plus compute_90 PTX for later devices.
        set(CMAKE_CUDA_ARCHITECTURES 90)
    endif()
    enable_language(CUDA)
    add_library(recolor_cuda INTERFACE)
    add_library(recolor::cuda ALIAS recolor_cuda)
    target_link_libraries(recolor_cuda INTERFACE recolor CUDA::cudart CUDA::cublas ${CUDNN_LIBRARY})
    target_include_directories(recolor_cuda INTERFACE ${CUDNN_INCLUDE_DIR})
    target_compile_definitions(recolor_cuda INTERFACE RECOLOR_WITH_CUDA=1)
    # C++20 by hand: CMake 3.25 has no CUDA20 dialect for nvcc, and CMAKE_CUDA_STANDARD 20 fails
    # the generate step there.
    target_compile_options(recolor_cuda INTERFACE
        $<$<COMPILE_LANGUAGE:CUDA>:-std=c++20 --expt-relaxed-constexpr --extended-lambda>)
    # Installed and exported in its own set, like recolor::io: a consumer's find_package(recolor)
    # includes recolorCudaTargets.cmake after find_dependency(CUDAToolkit). cuDNN is named by the
    # path found here.
    set_target_properties(recolor_cuda PROPERTIES EXPORT_NAME cuda)
    include(GNUInstallDirs)
    install(TARGETS recolor_cuda EXPORT recolorCudaTargets)
    install(EXPORT recolorCudaTargets NAMESPACE recolor::
            DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/recolor)
    message(STATUS "recolor: CUDA backend ON (archs ${CMAKE_CUDA_ARCHITECTURES}, cuDNN ${CUDNN_LIBRARY})")
else()
    message(STATUS "recolor: CUDA backend OFF (RECOLOR_CUDA=${RECOLOR_CUDA})")
endif()
