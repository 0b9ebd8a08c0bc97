// What an image file is, read from its bytes before any pixel is decoded. stb_image decodes
// whatever it recognises and fills what is missing with zeros, so these checks stand in front of
// it: the content (never the extension) names the format, and a file that stb would turn into
// silently wrong pixels is refused with a reason instead:
// - a JPEG or PNG cut short (no end-of-image marker, no IEND chunk): stb pads a cut JPEG with
//   grey and a cut BMP with black;
// - a BMP whose pixel rows run past the end of the file;
// - a 4-component JPEG without Adobe's APP14 marker: its inks' polarity and transform are
//   unknown, and stb would read it as YCbCr with an ignored fourth channel;
// - Apple's CgBI PNG (premultiplied BGR, not a standard PNG);
// - a JPEG Huffman table of more than 256 codes: stb_image 2.27 (Debian 12's libstb) writes
//   past its tables on one (found by fuzz/image_fuzzer.cpp); or of 256 codes none longer than
//   9 bits, whose last code stb misreads;
// - a JPEG that stb 2.27 would decode from memory it never set (it does not clear its decoder):
//   a scan that uses a Huffman or quantization table the file does not define, a component no
//   scan codes, a progressive component whose first scan is not its first DC scan, a scan with
//   fewer restart markers than its restart interval needs (stb stops at the first missing one).
//   The fuzzer found the first as a negative shift in CI;
// - a JPEG scan that lists a component twice: stb decodes every entry with the last one's
//   tables, out of step with the data;
// - a JPEG scan whose data ends before its last block, holds a code its Huffman table lacks, or
//   goes on where a restart marker is due: stb 2.27 takes bits it never read (a second negative
//   shift CI's fuzzer found) and fills the rest with zeros (jpeg_entropy.hpp).
// The size in the header is checked against the pixel limit as soon as it is read, before any
// other check. It also reads the EXIF orientation of JPEG (APP1) and PNG (eXIf) files. Every
// offset is checked against the buffer's size: this code runs on untrusted bytes, before stb
// sees any of them (see fuzz/).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "recolor/core/error.hpp"
#include "recolor/io/jpeg_tables.hpp"

namespace recolor::io {

enum class ImageFormat { jpeg, png, bmp };

inline const char* format_name(ImageFormat format) {
    switch (format) {
        case ImageFormat::jpeg:
            return "JPEG";
        case ImageFormat::png:
            return "PNG";
        case ImageFormat::bmp:
            return "BMP";
    }
    return "?";
}

// The facts about a file that decoding depends on.
struct ImageLayout {
    ImageFormat format = ImageFormat::jpeg;
    long long width = 0, height = 0;  // as stored (before the EXIF orientation)
    int orientation = 1;              // EXIF orientation, 1 to 8; 1 when absent or unreadable
    int jpeg_components = 0;          // from the frame header
    int adobe_transform = -1;         // Adobe APP14 colour transform (0 CMYK, 1 YCbCr, 2 YCCK)
    bool bmp_ignore_alpha = false;    // 32-bit BI_RGB BMP: the fourth byte is padding
};

namespace detail {

// The pixel limit, on the size a header claims.
inline void check_pixels(long long width, long long height, long long max_pixels,
                         const std::string& name) {
    const long long pixels = width * height;  // each at most 2^31: no overflow
    RECOLOR_CHECK(pixels <= max_pixels,
                  "load_image: '" << name << "' is " << width << "x" << height << " = " << pixels
                                  << " pixels, over the limit of " << max_pixels);
}

inline uint32_t read_u16(const unsigned char* p, bool little) {
    return little ? p[0] | p[1] << 8 : p[0] << 8 | p[1];
}

inline uint32_t read_u32(const unsigned char* p, bool little) {
    return little ? p[0] | p[1] << 8 | p[2] << 16 | static_cast<uint32_t>(p[3]) << 24
                  : static_cast<uint32_t>(p[0]) << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

inline bool starts_with(const unsigned char* data, size_t size, const char* magic, size_t n) {
    return size >= n && std::memcmp(data, magic, n) == 0;
}

// Names a format recolor does not read, from its magic bytes; "" when unknown.
inline std::string unsupported_format_name(const unsigned char* data, size_t size) {
    if (starts_with(data, size, "II*\0", 4) || starts_with(data, size, "MM\0*", 4)) return "TIFF";
    if (starts_with(data, size, "GIF8", 4)) return "GIF";
    if (size >= 12 && starts_with(data, size, "RIFF", 4) && std::memcmp(data + 8, "WEBP", 4) == 0)
        return "WebP";
    if (size >= 12 && std::memcmp(data + 4, "ftyp", 4) == 0) return "HEIF/AVIF";
    if (starts_with(data, size, "%PDF", 4)) return "PDF";
    if (starts_with(data, size, "8BPS", 4)) return "Photoshop (PSD)";
    return "";
}

// The first bytes of a file, printable, for a message.
inline std::string first_bytes(const unsigned char* data, size_t size) {
    std::string out;
    for (size_t i = 0; i < size && i < 8; ++i) {
        const unsigned char c = data[i];
        if (c >= 32 && c < 127) {
            out += static_cast<char>(c);
        } else {
            static const char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

// The Orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF block. A damaged block is
// common and does not spoil the pixels, so anything unreadable reads as 1 (upright).
inline int exif_orientation(const unsigned char* tiff, size_t size) {
    if (size < 8) return 1;
    const bool little = tiff[0] == 'I' && tiff[1] == 'I';
    if (!little && !(tiff[0] == 'M' && tiff[1] == 'M')) return 1;
    if (read_u16(tiff + 2, little) != 42) return 1;
    const uint64_t ifd = read_u32(tiff + 4, little);
    if (ifd + 2 > size) return 1;
    const uint32_t entries = read_u16(tiff + ifd, little);
    for (uint32_t i = 0; i < entries; ++i) {
        const uint64_t entry = ifd + 2 + 12 * uint64_t{i};
        if (entry + 12 > size) return 1;
        if (read_u16(tiff + entry, little) != 0x0112) continue;
        const uint32_t type = read_u16(tiff + entry + 2, little);
        const uint32_t count = read_u32(tiff + entry + 4, little);
        if (type != 3 || count != 1) return 1;  // SHORT, one value, stored in the entry
        const uint32_t value = read_u16(tiff + entry + 8, little);
        return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
    }
    return 1;
}

// The end of entropy-coded data that starts at `at`: the first 0xFF (then fill bytes) followed by
// a marker, as stb's bit reader finds it. Inside the data, 0xFF is followed by 0x00 (a stuffed
// byte) or a restart marker (D0 to D7), counted in `restarts`. `size` when the data runs to the
// end of the file.
inline size_t entropy_data_end(const unsigned char* data, size_t size, size_t at,
                               size_t& restarts) {
    restarts = 0;
    for (size_t i = at; i < size; ++i) {
        if (data[i] != 0xFF) continue;
        size_t next = i + 1;
        while (next < size && data[next] == 0xFF) ++next;
        if (next == size) return size;
        const bool restart = data[next] >= 0xD0 && data[next] <= 0xD7;
        if (data[next] != 0x00 && !restart) return i;
        restarts += restart;
        i = next;
    }
    return size;
}

// JPEG: every marker segment stb will read, in stb's order (those before the first scan, and
// those between scans and after the last), up to the end-of-image marker. Frame header, Adobe
// APP14 and EXIF APP1 are read; Huffman tables are checked, and so is that every table a scan
// uses is defined before it.
inline void scan_jpeg(const unsigned char* data, size_t size, const std::string& name,
                      long long max_pixels, ImageLayout& layout) {
    const std::string where = "load_image: '" + name + "': ";
    const std::string cut_in_data =
        "truncated JPEG: no end-of-image marker (FF D9) after the "
        "image data; the file was cut short";
    size_t at = 2;  // after SOI
    bool exif_seen = false, scanned = false;
    JpegTables tables;
    for (;;) {
        // Marker.
        RECOLOR_CHECK(at < size, where << (scanned ? cut_in_data
                                                   : "truncated JPEG: the file ends inside its "
                                                     "header (before the image data)"));
        RECOLOR_CHECK(data[at] == 0xFF, where << "corrupt JPEG: no marker at byte " << at);
        while (at < size && data[at] == 0xFF) ++at;  // fill bytes
        RECOLOR_CHECK(at < size, where << "truncated JPEG: the file ends inside a marker");
        const unsigned marker = data[at++];
        if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;
        if (marker == 0xD9) {
            RECOLOR_CHECK(scanned, where << "corrupt JPEG: end-of-image before any image data");
            const std::string unscanned = tables.check_all_scanned();
            RECOLOR_CHECK(unscanned.empty(), where << "corrupt JPEG: " << unscanned);
            return;
        }

        // Segment: its length must fit in the file.
        RECOLOR_CHECK(at + 2 <= size, where << "truncated JPEG: the file ends inside a segment");
        const size_t length = read_u16(data + at, false);
        RECOLOR_CHECK(length >= 2 && length <= size - at,
                      where << "truncated JPEG: a segment of " << length << " bytes at byte " << at
                            << " runs past the end of the file (" << size << " bytes)");
        const unsigned char* segment = data + at + 2;
        const size_t segment_size = length - 2;

        // Frame header (SOF0 to SOF15 but DHT, JPG and DAC): precision, size, components.
        const bool frame =
            marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
        if (frame && segment_size >= 6) {
            layout.height = read_u16(segment + 1, false);
            layout.width = read_u16(segment + 3, false);
            layout.jpeg_components = segment[5];
            check_pixels(layout.width, layout.height, max_pixels, name);
            RECOLOR_CHECK(
                marker <= 0xC2,
                where << "unsupported JPEG: its frame (SOF" << marker - 0xC0 << ") is "
                      << (marker >= 0xC9 ? "arithmetic-coded" : "lossless or hierarchical")
                      << "; recolor reads Huffman-coded baseline, extended and "
                         "progressive JPEG");
            RECOLOR_CHECK(segment[0] == 8, where << "unsupported JPEG: " << int{segment[0]}
                                                 << "-bit samples; recolor reads 8-bit JPEG");
            tables.read_frame(marker, segment, segment_size);
        }
        // Huffman tables (T.81 B.2.4.2): each a class/id byte, 16 code counts, the symbols.
        if (marker == 0xC4) {
            for (size_t table = 0; table < segment_size;) {
                RECOLOR_CHECK(segment_size - table >= 17,
                              where << "corrupt JPEG: a Huffman table is cut short");
                size_t codes = 0;
                for (int i = 1; i <= 16; ++i) codes += segment[table + i];
                RECOLOR_CHECK(codes <= 256 && codes <= segment_size - table - 17,
                              where << "corrupt JPEG: a Huffman table claims " << codes
                                    << " codes (at most 256, in the segment's "
                                    << segment_size - table - 17 << " bytes)");
                // stb 2.27 marks "no short code" with index 255 in its 9-bit lookup, so the
                // 256th code, when that short, is read one bit too long. No encoder writes one.
                int longest = 16;
                while (longest > 0 && segment[table + longest] == 0) --longest;
                RECOLOR_CHECK(codes < 256 || longest > 9,
                              where << "corrupt JPEG: a Huffman table of 256 codes, none longer "
                                       "than 9 bits (stb 2.27 misreads its last code)");
                table += 17 + codes;
            }
            tables.define_huffman(segment, segment_size);
        }
        if (marker == 0xDB) tables.define_quantization(segment, segment_size);
        if (marker == 0xDD) tables.define_restart_interval(segment, segment_size);
        // Adobe APP14, read the way stb reads it ("Adobe", a zero byte, then at byte 11).
        if (marker == 0xEE && segment_size >= 12 && std::memcmp(segment, "Adobe\0", 6) == 0) {
            layout.adobe_transform = segment[11];
        }
        if (marker == 0xE1 && !exif_seen && segment_size >= 6 &&
            std::memcmp(segment, "Exif\0\0", 6) == 0) {
            exif_seen = true;
            layout.orientation = exif_orientation(segment + 6, segment_size - 6);
        }
        at += length;

        // Start of scan: entropy-coded data follows, up to the next marker.
        if (marker == 0xDA) {
            const std::string missing = tables.check_scan(segment, segment_size);
            RECOLOR_CHECK(missing.empty(), where << "corrupt JPEG: " << missing);
            scanned = true;
            size_t restarts = 0;
            const size_t data_begin = at;
            at = entropy_data_end(data, size, at, restarts);
            RECOLOR_CHECK(restarts >= tables.restarts_needed,
                          where << "corrupt JPEG: a scan holds " << restarts
                                << " restart markers where its restart interval of "
                                << tables.restart_interval << " needs " << tables.restarts_needed);
            if (at < size) {  // else the file was cut short: the next marker check says so
                const std::string short_data = tables.check_scan_data(data, data_begin, at);
                RECOLOR_CHECK(short_data.empty(), where << "corrupt JPEG: " << short_data);
            }
        }
    }
}

// PNG: the chunk list up to IEND (which a complete file has), eXIf for the orientation, and
// Apple's CgBI chunk, whose files only look like PNG.
inline void scan_png(const unsigned char* data, size_t size, const std::string& name,
                     long long max_pixels, ImageLayout& layout) {
    const std::string where = "load_image: '" + name + "': ";
    size_t at = 8;  // after the signature
    for (bool first = true;; first = false) {
        RECOLOR_CHECK(size - at >= 12, where << "truncated PNG: the file ends at byte " << size
                                             << " without an IEND chunk; the file was cut short");
        const uint32_t length = read_u32(data + at, false);
        const unsigned char* type = data + at + 4;
        RECOLOR_CHECK(length <= size - at - 12,
                      where << "truncated PNG: chunk '" << first_bytes(type, 4) << "' of " << length
                            << " bytes at byte " << at << " runs past the end of the file (" << size
                            << " bytes)");
        RECOLOR_CHECK(!(first && std::memcmp(type, "CgBI", 4) == 0),
                      where << "Apple CgBI PNG (premultiplied BGR, from Xcode) is not supported; "
                               "convert it to a standard PNG");
        if (first && std::memcmp(type, "IHDR", 4) == 0 && length >= 8) {
            layout.width = read_u32(data + at + 8, false);
            layout.height = read_u32(data + at + 12, false);
            RECOLOR_CHECK(layout.width < (1LL << 31) && layout.height < (1LL << 31),
                          where << "corrupt PNG: size " << layout.width << "x" << layout.height);
            check_pixels(layout.width, layout.height, max_pixels, name);
        }
        if (std::memcmp(type, "eXIf", 4) == 0) {
            layout.orientation = exif_orientation(data + at + 8, length);
        }
        if (std::memcmp(type, "IEND", 4) == 0) return;
        at += 12 + static_cast<size_t>(length);
    }
}

// BMP: rows of uncompressed pixels must fit in the file (stb reads missing bytes as zeros).
// A 32-bit BI_RGB file's fourth byte is padding (Windows, Pillow); alpha comes only from an
// alpha mask in a V4 or V5 header.
inline void scan_bmp(const unsigned char* data, size_t size, const std::string& name,
                     long long max_pixels, ImageLayout& layout) {
    const std::string where = "load_image: '" + name + "': ";
    RECOLOR_CHECK(size >= 26, where << "truncated BMP: " << size << " bytes, no full header");
    const uint64_t offset = read_u32(data + 10, true);
    const uint32_t header = read_u32(data + 14, true);
    if (header == 12) {  // OS/2 1.x: 16-bit sizes, no compression; stb's own checks apply
        layout.width = read_u16(data + 18, true);
        layout.height = read_u16(data + 20, true);
        check_pixels(layout.width, layout.height, max_pixels, name);
        return;
    }
    RECOLOR_CHECK(header >= 40 && size >= 34,
                  where << "unsupported BMP header of " << header << " bytes");
    const int64_t width = static_cast<int32_t>(read_u32(data + 18, true));
    int64_t height = static_cast<int32_t>(read_u32(data + 22, true));
    if (height < 0) height = -height;  // top-down rows
    layout.width = width < 0 ? -width : width;
    layout.height = height;
    check_pixels(layout.width, layout.height, max_pixels, name);
    const uint32_t bits = read_u16(data + 28, true);
    const uint32_t compression = read_u32(data + 30, true);
    layout.bmp_ignore_alpha = bits == 32 && compression == 0;
    const bool uncompressed = compression == 0 || compression == 3 || compression == 6;
    if (!uncompressed || width <= 0 || height == 0 || bits == 0 || bits > 32) return;
    const uint64_t row = (static_cast<uint64_t>(width) * bits + 31) / 32 * 4;
    RECOLOR_CHECK(offset <= size && static_cast<uint64_t>(height) <= (size - offset) / row,
                  where << "truncated BMP: " << height << " rows of " << row << " bytes from byte "
                        << offset << " need " << offset + row * static_cast<uint64_t>(height)
                        << " bytes, the file has " << size);
}

}  // namespace detail

// The format, from the content, and what decoding needs to know; an Error naming `name` and the
// reason for anything recolor does not read correctly, or whose header claims over max_pixels.
inline ImageLayout inspect_image(const unsigned char* data, size_t size, const std::string& name,
                                 long long max_pixels) {
    ImageLayout layout;
    if (detail::starts_with(data, size, "\xFF\xD8\xFF", 3)) {
        layout.format = ImageFormat::jpeg;
        detail::scan_jpeg(data, size, name, max_pixels, layout);
        RECOLOR_CHECK(layout.jpeg_components != 4 || layout.adobe_transform == 0 ||
                          layout.adobe_transform == 2,
                      "load_image: '" << name
                                      << "': unsupported CMYK JPEG: 4 colour components without "
                                         "an Adobe CMYK or YCCK marker, so the inks' convention "
                                         "is unknown; convert it to RGB");
    } else if (detail::starts_with(data, size, "\x89PNG\r\n\x1A\n", 8)) {
        layout.format = ImageFormat::png;
        detail::scan_png(data, size, name, max_pixels, layout);
    } else if (detail::starts_with(data, size, "BM", 2)) {
        layout.format = ImageFormat::bmp;
        detail::scan_bmp(data, size, name, max_pixels, layout);
    } else {
        const std::string other = detail::unsupported_format_name(data, size);
        if (!other.empty()) {
            throw Error("load_image: '" + name + "' is a " + other +
                        " file; recolor reads JPEG, PNG and BMP only");
        }
        throw Error("load_image: '" + name + "' is not a JPEG, PNG or BMP image (it begins \"" +
                    detail::first_bytes(data, size) + "\")");
    }
    return layout;
}

}  // namespace recolor::io
