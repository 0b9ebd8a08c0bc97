// The tables of a JPEG file, followed segment by segment, for image_format.hpp's structure
// check: which Huffman and quantization tables the file has defined so far, what its frame and
// each scan use of them, and whether each scan's data holds every block (jpeg_entropy.hpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "recolor/io/jpeg_entropy.hpp"

namespace recolor::io::detail {

// The tables a JPEG defines as its segments are read, and what its frame and scans use of them,
// so that no scan decodes with a table that is not there (stb would use uninitialised memory).
struct JpegTables {
    bool huffman[2][4] = {};  // [class: 0 DC, 1 AC][id]
    bool quantization[4] = {};
    bool progressive = false;
    int frame_components = 0;
    unsigned char component_id[4] = {}, component_table[4] = {};
    unsigned component_h[4] = {}, component_v[4] = {}, max_h = 1, max_v = 1;
    bool component_scanned[4] = {}, component_dc_started[4] = {};
    size_t width = 0, height = 0, restart_interval = 0;
    size_t restarts_needed = 0;  // by the last scan checked
    JpegHuffman code[2][4];      // the tables' codes, for decoding scans
    bool stb_refuses = false;    // a table stb will not build: it stops the file there
    std::vector<uint64_t> nonzero_coefficients[4];  // progressive: per block, by zig-zag index

    // The last scan's header, where stb accepts it (readable); the components in their order.
    struct Scan {
        bool readable = false;
        int count = 0, component[4] = {}, dc[4] = {}, ac[4] = {};
        int spectral_start = 0, spectral_end = 63, approximation_high = 0, approximation_low = 0;
    } scan;

    // DHT (T.81 B.2.4.2): class/id byte, 16 code counts, the symbols.
    void define_huffman(const unsigned char* segment, size_t size) {
        for (size_t at = 0; at < size && size - at >= 17;) {
            const unsigned table_class = segment[at] >> 4, id = segment[at] & 15;
            size_t codes = 0;
            for (int i = 1; i <= 16; ++i) codes += segment[at + i];
            if (codes > 256 || codes > size - at - 17) return;  // refused by the caller's check
            if (table_class <= 1 && id <= 3) {
                huffman[table_class][id] = true;
                JpegHuffman& table = code[table_class][id];
                std::copy(segment + at + 1, segment + at + 17, table.counts + 1);
                std::copy(segment + at + 17, segment + at + 17 + codes, table.symbols);
                if (!table.build()) stb_refuses = true;  // "bad code lengths"
            } else {
                stb_refuses = true;  // "bad DHT header"
            }
            at += 17 + codes;
        }
    }
    // DQT (B.2.4.1): precision/id byte, then 64 values of 8 or 16 bits.
    void define_quantization(const unsigned char* segment, size_t size) {
        for (size_t at = 0; at < size;) {
            const unsigned precision = segment[at] >> 4, id = segment[at] & 15;
            const size_t bytes = 1 + 64 * (precision ? 2 : 1);
            if (precision > 1 || id > 3 || size - at < bytes) return;  // stb refuses the segment
            quantization[id] = true;
            at += bytes;
        }
    }
    // SOF: the components' ids and quantization tables. stb decodes Huffman-coded baseline,
    // extended and progressive frames (SOF0 to SOF2) of 1, 3 or 4 components; it refuses the
    // others itself, so they are not followed.
    void read_frame(unsigned marker, const unsigned char* segment, size_t size) {
        progressive = marker == 0xC2;
        frame_components = 0;
        const int count = segment[5];
        if (marker > 0xC2 || count > 4 || size < 6 + 3 * static_cast<size_t>(count)) return;
        height = static_cast<size_t>(segment[1]) << 8 | segment[2];
        width = static_cast<size_t>(segment[3]) << 8 | segment[4];
        max_h = max_v = 1;
        for (int c = 0; c < count; ++c) {
            component_id[c] = segment[6 + 3 * c];
            component_h[c] = segment[7 + 3 * c] >> 4;
            component_v[c] = segment[7 + 3 * c] & 15;
            component_table[c] = segment[8 + 3 * c];
            component_scanned[c] = component_dc_started[c] = false;
            if (component_h[c] < 1 || component_h[c] > 4 || component_v[c] < 1 ||
                component_v[c] > 4) {
                return;  // stb refuses the sampling factors
            }
            max_h = std::max(max_h, component_h[c]);
            max_v = std::max(max_v, component_v[c]);
        }
        frame_components = count;
        for (int c = 0; c < count; ++c) {
            nonzero_coefficients[c].assign(progressive ? block_columns(c) * block_rows(c) : 0, 0);
        }
    }
    // A component's blocks across and down (A.2.1): its samples, rounded up to blocks of 8.
    size_t block_columns(int c) const {
        return ((width * component_h[c] + max_h - 1) / max_h + 7) / 8;
    }
    size_t block_rows(int c) const {
        return ((height * component_v[c] + max_v - 1) / max_v + 7) / 8;
    }
    // DRI (B.2.4.4): the number of MCUs between restart markers, 0 for none.
    void define_restart_interval(const unsigned char* segment, size_t size) {
        if (size >= 2) restart_interval = static_cast<size_t>(segment[0]) << 8 | segment[1];
    }
    // SOS (B.2.3): every table its components use must be defined by now, and in a progressive
    // frame a component's first scan must be its first DC scan (stb clears the coefficients
    // there). Returns what is wrong, "" when nothing is; a header stb refuses on its own is left
    // to stb. Sets restarts_needed, the restart markers the scan's data must hold: stb stops a
    // scan at the first one missing and leaves the rest of the image as memory held.
    std::string check_scan(const unsigned char* segment, size_t size) {
        restarts_needed = 0;
        scan = Scan{};
        if (size < 1) return "";
        const size_t count = segment[0];
        if (size < 1 + 2 * count + 3) return "";
        const unsigned spectral_start = segment[1 + 2 * count];
        const unsigned spectral_end = segment[2 + 2 * count];
        const unsigned approximation_high = segment[3 + 2 * count] >> 4;
        const unsigned approximation_low = segment[3 + 2 * count] & 15;
        const bool uses_dc = !progressive || (spectral_start == 0 && approximation_high == 0);
        const bool uses_ac = !progressive || spectral_start > 0;
        bool listed[4] = {};
        for (size_t s = 0; s < count; ++s) {
            const unsigned id = segment[1 + 2 * s], dc = segment[2 + 2 * s] >> 4,
                           ac = segment[2 + 2 * s] & 15;
            int c = 0;
            while (c < frame_components && component_id[c] != id) ++c;
            if (c == frame_components || dc > 3 || ac > 3) return "";
            // T.81 B.2.3 forbids it; stb would decode every entry with the last one's tables.
            if (listed[c]) return "a scan lists component " + std::to_string(id) + " twice";
            listed[c] = true;
            component_scanned[c] = true;
            if (s < 4) {
                scan.component[s] = c;
                scan.dc[s] = static_cast<int>(dc);
                scan.ac[s] = static_cast<int>(ac);
            }
            const unsigned quant = component_table[c];
            auto table = [&](const char* kind, unsigned n) {
                return "a scan of component " + std::to_string(id) + " uses " + kind + " table " +
                       std::to_string(n) + ", which the file does not define before it";
            };
            if (quant <= 3 && !quantization[quant]) return table("quantization", quant);
            if (uses_dc && !huffman[0][dc]) return table("DC Huffman", dc);
            if (uses_ac && !huffman[1][ac]) return table("AC Huffman", ac);
            if (progressive && spectral_start == 0 && approximation_high == 0) {
                component_dc_started[c] = true;
            }
            if (progressive && !component_dc_started[c]) {
                return "a progressive scan of component " + std::to_string(id) +
                       " comes before its first DC scan";
            }
        }
        scan.count = static_cast<int>(count);
        if (restart_interval > 0 && count >= 1) {
            const size_t mcus = mcu_count();
            restarts_needed = mcus > 0 ? (mcus - 1) / restart_interval : 0;
        }
        // The header as stb's stbi__process_scan_header accepts it; the others stb refuses.
        const bool bands_valid =
            progressive ? spectral_start <= spectral_end && spectral_end <= 63 &&
                              approximation_high <= 13 && approximation_low <= 13
                        : spectral_start == 0 && approximation_high == 0 && approximation_low == 0;
        scan.readable = count >= 1 && count <= 4 &&
                        count <= static_cast<size_t>(frame_components) && size == 4 + 2 * count &&
                        bands_valid && width > 0 && height > 0;
        scan.spectral_start = static_cast<int>(spectral_start);
        scan.spectral_end = progressive ? static_cast<int>(spectral_end) : 63;
        scan.approximation_high = static_cast<int>(approximation_high);
        scan.approximation_low = static_cast<int>(approximation_low);
        return "";
    }
    // The last scan's MCUs (A.2) across and in all: blocks of its one component, or
    // interleaved MCUs of the frame. None while the height is to come (DNL).
    size_t mcu_columns() const {
        return scan.count > 1 ? (width + 8 * max_h - 1) / (8 * max_h)
                              : block_columns(scan.component[0]);
    }
    size_t mcu_count() const {
        return mcu_columns() * (scan.count > 1 ? (height + 8 * max_v - 1) / (8 * max_v)
                                               : block_rows(scan.component[0]));
    }
    // The last scan's entropy-coded data, data[begin, end) with its restart markers, decoded
    // MCU by MCU in stb's order (stbi__parse_entropy_coded_data). Returns what is wrong, ""
    // when every MCU is there; a scan stb refuses on its own is left to stb.
    std::string check_scan_data(const unsigned char* data, size_t begin, size_t end) {
        if (!scan.readable || stb_refuses) return "";
        const bool interleaved = scan.count > 1, dc_scan = scan.spectral_start == 0;
        // stb refuses a progressive scan that mixes DC and AC, or interleaves AC, at its first
        // block, before it reads a bit.
        if (progressive && (dc_scan ? scan.spectral_end != 0 : interleaved)) return "";

        JpegScanDecoder decoder;
        decoder.in = JpegBits{data, begin, end};
        const size_t across = mcu_columns(), mcus = mcu_count();
        size_t left = restart_interval > 0 ? restart_interval : mcus;
        for (size_t mcu = 0; mcu < mcus; ++mcu) {
            // A single-component scan's MCU is one block (A.2.2); otherwise every component's
            // h x v blocks, in the scan's order.
            for (int s = 0; s < scan.count; ++s) {
                const int c = scan.component[s];
                const unsigned h = interleaved ? component_h[c] : 1;
                const unsigned v = interleaved ? component_v[c] : 1;
                for (unsigned y = 0; y < v; ++y) {
                    for (unsigned x = 0; x < h; ++x) {
                        const size_t column = (mcu % across) * h + x, row = (mcu / across) * v + y;
                        if (!decode_block(decoder, s, column, row)) {
                            return scan_failure(decoder.failure, mcu + 1, mcus);
                        }
                    }
                }
            }
            // The interval ends: at most 7 padding bits, then its restart marker (F.1.2.3).
            if (--left == 0 && mcu + 1 < mcus) {
                JpegBits& in = decoder.in;
                if (in.fill(8)) return scan_failure(JpegScanEnd::bad_restart, mcu + 1, mcus);
                size_t next = in.marker_at;
                while (next < end && data[next] == 0xFF) ++next;
                if (next >= end) return scan_failure(JpegScanEnd::data_ends, mcu + 2, mcus);
                // data[next] is an RST marker: entropy_data_end stops at any other.
                decoder = JpegScanDecoder{};
                decoder.in = JpegBits{data, next + 1, end};
                left = restart_interval;
            }
        }
        return "";
    }
    // The block of the last scan's component s at (column, row) in that component's blocks,
    // decoded as stb decodes it for the scan's kind.
    bool decode_block(JpegScanDecoder& decoder, int s, size_t column, size_t row) {
        const int c = scan.component[s];
        const JpegHuffman &dc = code[0][scan.dc[s]], &ac = code[1][scan.ac[s]];
        if (!progressive) return decoder.sequential_block(dc, ac, c);
        uint64_t* nonzero = nullptr;  // none past the image, in an interleaved MCU's padding
        if (column < block_columns(c) && row < block_rows(c)) {
            nonzero = &nonzero_coefficients[c][row * block_columns(c) + column];
        }
        const bool first_pass = scan.approximation_high == 0;
        if (scan.spectral_start == 0) return decoder.dc_block(dc, first_pass, nonzero, c);
        // An AC scan has one component, whose blocks all lie in the image.
        return first_pass
                   ? decoder.ac_first_block(ac, scan.spectral_start, scan.spectral_end,
                                            scan.approximation_low, *nonzero)
                   : decoder.ac_refine_block(ac, scan.spectral_start, scan.spectral_end, *nonzero);
    }
    // What a failure at MCU number `mcu` (from 1) of `mcus` means.
    static std::string scan_failure(JpegScanEnd why, size_t mcu, size_t mcus) {
        const std::string where = std::to_string(mcu) + " of " + std::to_string(mcus);
        switch (why) {
            case JpegScanEnd::bad_code:
                return "a scan's data holds a code its Huffman table does not define (in MCU " +
                       where + ")";
            case JpegScanEnd::bad_dc:
                return "a scan's DC coefficient grows past 32768 (in MCU " + where + ")";
            case JpegScanEnd::bad_restart:
                return "a scan's data goes on where a restart marker should end its interval "
                       "(after MCU " +
                       where + ")";
            default:
                return "a scan's data ends before the end of MCU " + where +
                       ": the image data was cut short or damaged";
        }
    }

    // At the end of the image: a component that no scan coded has no pixels.
    std::string check_all_scanned() const {
        for (int c = 0; c < frame_components; ++c) {
            if (!component_scanned[c]) {
                return "frame component " + std::to_string(component_id[c]) + " is in no scan";
            }
        }
        return "";
    }
};

}  // namespace recolor::io::detail
