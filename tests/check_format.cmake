# Fails when any C++ or CUDA source is not formatted as .clang-format says.
file(GLOB_RECURSE files
    ${SOURCE_DIR}/include/*.hpp ${SOURCE_DIR}/kernels/*.cuh ${SOURCE_DIR}/kernels/*.cu
    ${SOURCE_DIR}/examples/*.cpp ${SOURCE_DIR}/examples/*.hpp ${SOURCE_DIR}/bench/*.cpp
    ${SOURCE_DIR}/bench/*.hpp ${SOURCE_DIR}/bench/*.cu ${SOURCE_DIR}/tests/*.cpp
    ${SOURCE_DIR}/tests/*.hpp ${SOURCE_DIR}/tests/*.cu ${SOURCE_DIR}/tests/*.cuh)
execute_process(COMMAND ${CLANG_FORMAT} --dry-run --Werror ${files} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "clang-format: files above are not formatted; run scripts/format.sh")
endif()
list(LENGTH files n)
message(STATUS "clang-format: ${n} files formatted")
