// libFuzzer target: arbitrary bytes loaded as a checkpoint (safetensors header and layout, the
// metadata, the configuration, the model built from it, the tensors copied in). load_checkpoint
// reads from a path, so each input is written to a scratch file first. A recolor::Error is the
// one accepted outcome; a crash, a sanitizer report, any other exception or an allocation past
// -rss_limit_mb is a finding.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "recolor/detector/checkpoint.hpp"

namespace {

std::filesystem::path scratch_file() {
    const std::filesystem::path shm = "/dev/shm";
    const std::filesystem::path dir =
        std::filesystem::is_directory(shm) ? shm : std::filesystem::temp_directory_path();
    return dir / ("recolor_checkpoint_fuzz_" + std::to_string(::getpid()) + ".safetensors");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::filesystem::path path = scratch_file();
    std::FILE* file = std::fopen(path.c_str(), "wb");
    if (!file) __builtin_trap();
    if (size > 0 && std::fwrite(data, 1, size, file) != size) __builtin_trap();
    std::fclose(file);
    try {
        recolor::detector::load_checkpoint(path);
    } catch (const recolor::Error&) {
    }
    return 0;
}
