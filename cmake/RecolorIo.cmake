# Defines recolor::io: image, dataset and checkpoint I/O for the detector. It adds stb (Debian's
# libstb-dev: headers in <prefix>/include/stb, the compiled implementations in libstb) and
# nlohmann_json to recolor. The headers never define STB_*_IMPLEMENTATION: libstb holds them.
find_path(RECOLOR_STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb)
find_library(RECOLOR_STB_LIBRARY stb)
find_package(nlohmann_json 3.2 QUIET)
if(NOT RECOLOR_STB_INCLUDE_DIR OR NOT RECOLOR_STB_LIBRARY OR NOT nlohmann_json_FOUND)
    message(FATAL_ERROR "recolor::io needs stb and nlohmann_json (Debian: apt-get install "
                        "libstb-dev nlohmann-json3-dev); found stb headers "
                        "'${RECOLOR_STB_INCLUDE_DIR}', libstb '${RECOLOR_STB_LIBRARY}', "
                        "nlohmann_json '${nlohmann_json_FOUND}'")
endif()

add_library(recolor_io INTERFACE)
add_library(recolor::io ALIAS recolor_io)
set_target_properties(recolor_io PROPERTIES EXPORT_NAME io)
target_include_directories(recolor_io INTERFACE ${RECOLOR_STB_INCLUDE_DIR})
target_link_libraries(recolor_io INTERFACE recolor ${RECOLOR_STB_LIBRARY}
                      nlohmann_json::nlohmann_json)
message(STATUS "recolor: io ON (stb ${RECOLOR_STB_LIBRARY}, "
               "nlohmann_json ${nlohmann_json_VERSION})")

# Export in its own set: a consumer includes recolorIoTargets.cmake after recolorTargets.cmake,
# once find_dependency(nlohmann_json) has run.
include(GNUInstallDirs)
install(TARGETS recolor_io EXPORT recolorIoTargets)
install(EXPORT recolorIoTargets NAMESPACE recolor::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/recolor)
