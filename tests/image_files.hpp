// Image files built byte by byte, so that the robustness tests and the fuzzers' seed corpus hold
// every kind of file the loader must handle without shipping any: PNG (any bit depth and colour
// type, extra chunks; zlib "stored" blocks, so no compressor is needed), baseline JPEG made of
// flat 8x8 blocks (grey, YCbCr, CMYK or YCCK, with optional Adobe and EXIF segments) and BMP
// (40-byte or V4 headers, palettes, top-down rows). Each writer follows its format's
// specification: PNG (ISO/IEC 15948), JPEG (ITU T.81), EXIF 2.32, and Microsoft's BMP headers.
#pragma once

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace recolor::test_files {

inline void put_u16_be(std::string& out, uint32_t v) {
    out += static_cast<char>(v >> 8 & 0xFF);
    out += static_cast<char>(v & 0xFF);
}
inline void put_u32_be(std::string& out, uint32_t v) {
    put_u16_be(out, v >> 16);
    put_u16_be(out, v & 0xFFFF);
}
inline void put_u16_le(std::string& out, uint32_t v) {
    out += static_cast<char>(v & 0xFF);
    out += static_cast<char>(v >> 8 & 0xFF);
}
inline void put_u32_le(std::string& out, uint32_t v) {
    put_u16_le(out, v & 0xFFFF);
    put_u16_le(out, v >> 16);
}

// Base64 (RFC 4648), as libFuzzer prints the input of a finding; throws on another character.
inline std::string base64_decode(const std::string& text) {
    static const std::string digits =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    uint32_t value = 0;
    int bits = 0;
    for (char c : text) {
        if (c == '=') break;
        const size_t digit = digits.find(c);
        if (digit == std::string::npos) throw std::invalid_argument("not base64: " + text);
        value = (value << 6 | static_cast<uint32_t>(digit)) & 0xFFFFFF, bits += 6;
        if (bits >= 8) out += static_cast<char>(value >> (bits -= 8) & 0xFF);
    }
    return out;
}

// PNG.

inline uint32_t crc32(const std::string& bytes) {
    uint32_t crc = 0xFFFFFFFFu;
    for (unsigned char b : bytes) {
        crc ^= b;
        for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
    }
    return crc ^ 0xFFFFFFFFu;
}

inline std::string png_chunk(const std::string& type, const std::string& data) {
    std::string out;
    put_u32_be(out, static_cast<uint32_t>(data.size()));
    out += type + data;
    put_u32_be(out, crc32(type + data));
    return out;
}

// A zlib stream of stored (uncompressed) deflate blocks, with its Adler-32.
inline std::string zlib_stored(const std::string& data) {
    std::string out = "\x78\x01";
    size_t at = 0;
    do {
        const size_t n = std::min<size_t>(65535, data.size() - at);
        out += static_cast<char>(at + n == data.size() ? 1 : 0);  // BFINAL, BTYPE 00
        put_u16_le(out, static_cast<uint32_t>(n));
        put_u16_le(out, static_cast<uint32_t>(~n & 0xFFFF));
        out.append(data, at, n);
        at += n;
    } while (at < data.size());
    uint32_t a = 1, b = 0;
    for (unsigned char c : data) a = (a + c) % 65521, b = (b + a) % 65521;
    put_u32_be(out, b << 16 | a);
    return out;
}

inline std::string ihdr(uint32_t width, uint32_t height, int bit_depth, int colour_type) {
    std::string h;
    put_u32_be(h, width);
    put_u32_be(h, height);
    h += static_cast<char>(bit_depth);
    h += static_cast<char>(colour_type);
    h += std::string(3, '\0');  // deflate, adaptive filtering, no interlace
    return h;
}

// A PNG from packed rows (each exactly the bytes of one scanline, without the filter byte),
// with `chunks` (PLTE, tRNS, eXIf, ...) between IHDR and IDAT.
inline std::string png_file(int width, int height, int bit_depth, int colour_type,
                            const std::vector<std::string>& rows,
                            const std::vector<std::pair<std::string, std::string>>& chunks = {}) {
    std::string raw;
    for (const auto& row : rows) raw += '\0' + row;  // filter type 0: none
    std::string out = "\x89PNG\r\n\x1A\n";
    out += png_chunk("IHDR", ihdr(width, height, bit_depth, colour_type));
    for (const auto& [type, data] : chunks) out += png_chunk(type, data);
    out += png_chunk("IDAT", zlib_stored(raw));
    out += png_chunk("IEND", "");
    return out;
}

// EXIF: an IFD0 holding only the Orientation tag, in Intel (II) or Motorola (MM) byte order.
inline std::string exif_tiff(int orientation, bool big_endian) {
    std::string t = big_endian ? std::string("MM\0*", 4) : std::string("II*\0", 4);
    auto u16 = [&](uint32_t v) { big_endian ? put_u16_be(t, v) : put_u16_le(t, v); };
    auto u32 = [&](uint32_t v) { big_endian ? put_u32_be(t, v) : put_u32_le(t, v); };
    u32(8);       // IFD0 right after the header
    u16(1);       // one entry
    u16(0x0112);  // Orientation
    u16(3);       // SHORT
    u32(1);       // one value, held in the entry
    u16(static_cast<uint32_t>(orientation));
    u16(0);
    u32(0);  // no next IFD
    return t;
}

// JPEG.

// Flat blocks: levels[c][row * blocks_wide + column] is component c's value in that block.
struct FlatJpeg {
    int blocks_wide = 1, blocks_high = 1;
    std::vector<std::vector<uint8_t>> levels;
    int adobe_transform = -1;  // -1: no APP14 segment
    std::string exif;          // TIFF-structured EXIF for an APP1 segment ("" for none)
};

inline std::string jpeg_segment(int marker, const std::string& payload) {
    std::string out = "\xFF";
    out += static_cast<char>(marker);
    put_u16_be(out, static_cast<uint32_t>(payload.size() + 2));
    return out + payload;
}

// Baseline, 8-bit, no subsampling, all quantisers 1. A flat block of level v has only a DC
// coefficient, 8 (v - 128) (T.81 A.3.3), so it decodes to v exactly. The DC table gives each
// size category 0 to 11 a 4-bit code equal to the category; the AC table holds only
// end-of-block, coded "0".
inline std::string flat_jpeg(const FlatJpeg& spec) {
    const int components = static_cast<int>(spec.levels.size());
    std::string out = "\xFF\xD8";
    if (!spec.exif.empty()) out += jpeg_segment(0xE1, std::string("Exif\0\0", 6) + spec.exif);
    if (spec.adobe_transform >= 0) {
        std::string adobe("Adobe\0\x64\0\0\0\0", 11);  // version 100, flags 0
        adobe += static_cast<char>(spec.adobe_transform);
        out += jpeg_segment(0xEE, adobe);
    }
    out += jpeg_segment(0xDB, std::string(1, '\0') + std::string(64, '\1'));
    std::string frame(1, '\x08');
    put_u16_be(frame, static_cast<uint32_t>(spec.blocks_high * 8));
    put_u16_be(frame, static_cast<uint32_t>(spec.blocks_wide * 8));
    frame += static_cast<char>(components);
    for (int c = 0; c < components; ++c) frame += {static_cast<char>(c + 1), '\x11', '\0'};
    out += jpeg_segment(0xC0, frame);
    std::string dc(1, '\x00'), ac(1, '\x10');
    for (int length = 1; length <= 16; ++length) dc += static_cast<char>(length == 4 ? 12 : 0);
    for (int symbol = 0; symbol < 12; ++symbol) dc += static_cast<char>(symbol);
    for (int length = 1; length <= 16; ++length) ac += static_cast<char>(length == 1 ? 1 : 0);
    ac += '\0';
    out += jpeg_segment(0xC4, dc) + jpeg_segment(0xC4, ac);
    std::string scan(1, static_cast<char>(components));
    for (int c = 0; c < components; ++c) scan += {static_cast<char>(c + 1), '\0'};
    scan += {'\0', '\x3F', '\0'};
    out += jpeg_segment(0xDA, scan);

    // Entropy-coded data: per block, the DC difference (category code, then its bits) and EOB.
    std::string data;
    uint32_t bits = 0;
    int count = 0;
    auto put = [&](uint32_t value, int n) {
        for (int i = n - 1; i >= 0; --i) {
            bits = bits << 1 | (value >> i & 1);
            if (++count == 8) {
                data += static_cast<char>(bits);
                if (bits == 0xFF) data += '\0';  // byte stuffing
                bits = 0, count = 0;
            }
        }
    };
    std::vector<int> previous(components, 0);
    for (int block = 0; block < spec.blocks_wide * spec.blocks_high; ++block) {
        for (int c = 0; c < components; ++c) {
            const int dc_value = 8 * (spec.levels[c][block] - 128);
            const int diff = dc_value - previous[c];
            previous[c] = dc_value;
            int category = 0;
            while ((1 << category) <= (diff < 0 ? -diff : diff)) ++category;
            put(static_cast<uint32_t>(category), 4);
            put(static_cast<uint32_t>(diff < 0 ? diff + (1 << category) - 1 : diff), category);
            put(0, 1);  // end of block
        }
    }
    while (count != 0) put(1, 1);  // pad with ones
    return out + data + "\xFF\xD9";
}

// A progressive JPEG, made by libjpeg-turbo's `cjpeg -progressive -quality 90 -restart 1b` from
// a 16 x 16 colour image: 4:2:0, ten scans (DC interleaved, AC bands by successive approximation
// with their refinement scans and end-of-band runs), a restart marker after every MCU.
inline std::string progressive_jpeg() {
    return base64_decode(
        "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsK"
        "CwsNDhIQDQ4RDgsLEBYQERMUFRUVDA8XGBYUGBIUFRT/2wBDAQMEBAUEBQkFBQkUDQsNFBQUFBQU"
        "FBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBT/wgARCAAQABADASIA"
        "AhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAABgf/xAAVAQEBAAAAAAAAAAAAAAAAAAABA//dAAQA"
        "Af/aAAwDAQACEAMQAAABlLVgwof/xAAZEAACAwEAAAAAAAAAAAAAAAAEBQABAhH/2gAIAQEAAQUC"
        "EU81/9AZVep//9EVVy//0hVc/8QAGBEAAgMAAAAAAAAAAAAAAAAAAAUGITL/2gAIAQMBAT8Bjb7N"
        "n//EABwRAAAGAwAAAAAAAAAAAAAAAAABAhFh8QMEBf/aAAgBAgEBPwHe7RY0qS7RBVY//8QAGRAA"
        "AwADAAAAAAAAAAAAAAAAAAERISIy/9oACAEBAAY/Alg//9BKH//RWtZ//9LmH//EABwQAAICAwEB"
        "AAAAAAAAAAAAAAERADEhQVFhcf/aAAgBAQABPyFDLbBP3k//0MFwHXLn/9FyKnmp/9JrNCOQZ//a"
        "AAwDAQACAAMAAAAQ9//EABcRAQADAAAAAAAAAAAAAAAAAAEAEWH/2gAIAQMBAT8QuVmf/8QAFxEB"
        "AQEBAAAAAAAAAAAAAAAAAREhAP/aAAgBAgEBPxAQSVUYwFFSMo1cLVHv/8QAGhABAAIDAQAAAAAA"
        "AAAAAAAAAREhMUFRAP/aAAgBAQABPxASUZBFm1GtklQNe//QRC+TEhIdZjmznv/RWQbDEmzgzTHa"
        "5Pv/0kAdotwQPJnWdk+//9k=");
}

// BMP.

struct BmpSpec {
    BmpSpec(int width, int height, int bits, std::vector<std::string> rows)
        : width(width), height(height), bits(bits), rows(std::move(rows)) {}
    int width, height, bits;
    std::vector<std::string> rows;  // top row first, each row's pixel bytes without padding
    std::vector<uint32_t> palette;  // 0x00RRGGBB entries, for 8-bit files
    bool top_down = false;          // negative height: rows stored top first
    bool v4_alpha = false;          // 108-byte V4 header, BI_BITFIELDS with an alpha mask
};

inline std::string bmp_file(const BmpSpec& spec) {
    const uint32_t header = spec.v4_alpha ? 108 : 40;
    const uint32_t stride = (static_cast<uint32_t>(spec.width) * spec.bits + 31) / 32 * 4;
    const uint32_t offset = 14 + header + 4 * static_cast<uint32_t>(spec.palette.size());
    const uint32_t image = stride * static_cast<uint32_t>(spec.height);
    std::string out = "BM";
    put_u32_le(out, offset + image);
    put_u32_le(out, 0);
    put_u32_le(out, offset);
    put_u32_le(out, header);
    put_u32_le(out, static_cast<uint32_t>(spec.width));
    put_u32_le(out, static_cast<uint32_t>(spec.top_down ? -spec.height : spec.height));
    put_u16_le(out, 1);
    put_u16_le(out, static_cast<uint32_t>(spec.bits));
    put_u32_le(out, spec.v4_alpha ? 3 : 0);  // BI_BITFIELDS or BI_RGB
    put_u32_le(out, image);
    put_u32_le(out, 2835);  // 72 dpi
    put_u32_le(out, 2835);
    put_u32_le(out, static_cast<uint32_t>(spec.palette.size()));
    put_u32_le(out, 0);
    if (spec.v4_alpha) {
        for (uint32_t mask : {0x00FF0000u, 0x0000FF00u, 0x000000FFu, 0xFF000000u}) {
            put_u32_le(out, mask);
        }
        put_u32_le(out, 0x73524742);   // 'sRGB'
        out += std::string(48, '\0');  // endpoints and gamma, unused for sRGB
    }
    for (uint32_t entry : spec.palette) put_u32_le(out, entry);  // B, G, R, 0
    for (int r = 0; r < spec.height; ++r) {
        const std::string& row = spec.rows[spec.top_down ? r : spec.height - 1 - r];
        out += row + std::string(stride - row.size(), '\0');
    }
    return out;
}

}  // namespace recolor::test_files
