// libFuzzer target: arbitrary bytes through the whole image-loading path (format checks, stb's
// decoders, 16-bit conversion, alpha, EXIF orientation). A recolor::Error is the one accepted
// outcome for bad input; anything else (a crash, a sanitizer report, another exception, an
// allocation past -rss_limit_mb) is a finding. The pixel limit is lowered so that each input
// decodes in milliseconds.
#include <cstddef>
#include <cstdint>

#include "recolor/io/image.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const recolor::io::ImageRgb8 image =
            recolor::io::decode_image(data, size, "fuzz-input", 1 << 20);
        if (image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3) {
            __builtin_trap();  // a decoded image must hold exactly its pixels
        }
    } catch (const recolor::Error&) {
    }
    return 0;
}
