// The tables of a JPEG file, followed segment by segment, for image_format.hpp's structure
// check: which Huffman and quantization tables the file has defined so far, and what its frame
// and each scan use of them.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>

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

    // DHT (T.81 B.2.4.2): class/id byte, 16 code counts, the symbols.
    void define_huffman(const unsigned char* segment, size_t size) {
        for (size_t at = 0; at < size && size - at >= 17;) {
            const unsigned table_class = segment[at] >> 4, id = segment[at] & 15;
            size_t codes = 0;
            for (int i = 1; i <= 16; ++i) codes += segment[at + i];
            if (codes > size - at - 17) return;  // cut short: refused by the caller's check
            if (table_class <= 1 && id <= 3) huffman[table_class][id] = true;
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
        if (size < 1) return "";
        const size_t count = segment[0];
        if (size < 1 + 2 * count + 3) return "";
        const unsigned spectral_start = segment[1 + 2 * count];
        const unsigned approximation_high = segment[3 + 2 * count] >> 4;
        const bool uses_dc = !progressive || (spectral_start == 0 && approximation_high == 0);
        const bool uses_ac = !progressive || spectral_start > 0;
        for (size_t s = 0; s < count; ++s) {
            const unsigned id = segment[1 + 2 * s], dc = segment[2 + 2 * s] >> 4,
                           ac = segment[2 + 2 * s] & 15;
            int c = 0;
            while (c < frame_components && component_id[c] != id) ++c;
            if (c == frame_components || dc > 3 || ac > 3) return "";
            component_scanned[c] = true;
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
        if (restart_interval > 0 && count >= 1) {
            const size_t mcus = units(segment, count);  // 0 with a height set later (DNL)
            restarts_needed = mcus > 0 ? (mcus - 1) / restart_interval : 0;
        }
        return "";
    }
    // The MCUs of a scan (A.2): blocks of its one component, or interleaved MCUs of the frame.
    size_t units(const unsigned char* segment, size_t count) const {
        auto blocks = [](size_t pixels) { return (pixels + 7) / 8; };
        if (count > 1) {
            return blocks((width + max_h - 1) / max_h) * blocks((height + max_v - 1) / max_v);
        }
        int c = 0;
        while (c < frame_components && component_id[c] != segment[1]) ++c;
        return blocks((width * component_h[c] + max_h - 1) / max_h) *
               blocks((height * component_v[c] + max_v - 1) / max_v);
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
