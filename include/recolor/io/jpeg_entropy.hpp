// The entropy-coded data of one JPEG scan, decoded as far as its bits go (no pixels), for
// image_format.hpp's structure check. stb_image 2.27 trusts the data to hold every block its
// scan promises: where a marker comes first, it takes more bits than it read (its bit count
// goes negative, a shift past 31 bits that the fuzzer found in CI) and fills the rest of the
// image with decoded zeros, silently. So before stb sees a file, each scan is walked block by
// block the way stb walks it (T.81 F.2.2 for sequential scans, G.1.2 for progressive ones): a
// scan whose data ends early, holds a code its Huffman table lacks, or misses a restart marker
// where its interval ends is refused. Where stb refuses a scan header on its own, the scan is
// left to stb.
#pragma once

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <cstdint>
#include <string>
#include <vector>

namespace recolor::io::detail {

// A Huffman table as DHT defines it (B.2.4.2): code counts per length, then the symbols.
struct JpegHuffman {
    static constexpr int fast_bits = 9;
    unsigned char counts[17] = {};  // [length 1..16]
    unsigned char symbols[256] = {};
    int first_code[17] = {}, last_code[17] = {}, first_symbol[17] = {};
    uint16_t fast[1 << fast_bits] = {};  // by the next 9 bits: length << 8 | symbol, 0 if longer

    // The canonical codes (C.2); false where the lengths do not fit (stb refuses the table).
    bool build() {
        int code = 0, symbol = 0;
        for (int length = 1; length <= 16; ++length) {
            first_code[length] = code;
            first_symbol[length] = symbol;
            code += counts[length];
            symbol += counts[length];
            last_code[length] = code - 1;  // below first_code where the length has no code
            if (counts[length] > 0 && code - 1 >= (1 << length)) return false;
            code <<= 1;
        }
        std::fill(std::begin(fast), std::end(fast), uint16_t{0});
        for (int length = 1; length <= fast_bits; ++length) {
            for (int c = first_code[length]; c <= last_code[length]; ++c) {
                const int shift = fast_bits - length;
                const auto entry = static_cast<uint16_t>(
                    length << 8 | symbols[first_symbol[length] + c - first_code[length]]);
                std::fill(fast + (c << shift), fast + ((c + 1) << shift), entry);
            }
        }
        return true;
    }
};

// The bits of one restart interval: bytes up to the next marker, FF 00 read as FF (F.1.2.3).
struct JpegBits {
    const unsigned char* data = nullptr;
    size_t at = 0, end = 0;
    uint64_t buffer = 0;
    int count = 0;         // bits in buffer
    bool marker = false;   // reached: no more bytes
    size_t marker_at = 0;  // where the marker's first FF is

    bool fill(int wanted) {
        while (count < wanted && !marker) {
            if (at >= end) {
                marker = true;
                marker_at = end;
                break;
            }
            unsigned byte = data[at];
            if (byte == 0xFF) {
                size_t next = at + 1;
                while (next < end && data[next] == 0xFF) ++next;  // fill bytes
                if (next >= end || data[next] != 0x00) {
                    marker = true;
                    marker_at = at;
                    break;
                }
                at = next + 1;
            } else {
                ++at;
            }
            buffer = buffer << 8 | byte;
            count += 8;
        }
        return count >= wanted;
    }
    // n bits (n <= 16) as an unsigned number, or -1 where the data ends first.
    int bits(int n) {
        if (n == 0) return 0;
        if (!fill(n)) return -1;
        count -= n;
        return static_cast<int>(buffer >> count & ((1u << n) - 1));
    }
};

// How a scan's decoding ended: the whole scan read, or where and why it stopped.
enum class JpegScanEnd { complete, data_ends, bad_code, bad_restart, bad_dc };

// One restart interval's decoder state: the bits, the end-of-band run of a progressive scan and
// the DC predictors. The caller keeps, for each block of a progressive frame, which coefficients
// are not zero (a refinement scan reads a correction bit for each of them, G.1.2.3).
struct JpegScanDecoder {
    JpegBits in;
    unsigned end_of_band_run = 0;
    int predictor[4] = {};  // each frame component's DC, reset with the interval
    JpegScanEnd failure = JpegScanEnd::complete;

    bool fail(JpegScanEnd why) {
        failure = why;
        return false;
    }
    // A Huffman-coded symbol, or -1 (failure set) where no code matches or the data ends. The
    // next 16 bits are looked at together (zeros past the data's end), shortest code first.
    int symbol(const JpegHuffman& table) {
        in.fill(16);
        const unsigned window = static_cast<unsigned>(
            (in.count >= 16 ? in.buffer >> (in.count - 16) : in.buffer << (16 - in.count)) &
            0xFFFF);
        const unsigned entry = table.fast[window >> (16 - JpegHuffman::fast_bits)];
        if (entry != 0 && static_cast<int>(entry >> 8) <= in.count) {
            in.count -= static_cast<int>(entry >> 8);
            return static_cast<int>(entry & 0xFF);
        }
        for (int length = 1; length <= 16; ++length) {
            if (length > in.count) break;  // no code in the bits there are
            const int code = static_cast<int>(window >> (16 - length));
            if (code <= table.last_code[length] && code >= table.first_code[length]) {
                in.count -= length;
                return table.symbols[table.first_symbol[length] + code - table.first_code[length]];
            }
        }
        fail(in.count < 16 ? JpegScanEnd::data_ends : JpegScanEnd::bad_code);
        return -1;
    }
    // n bits, skipped; false (failure set) where the data ends first.
    bool read(int n) { return in.bits(n) >= 0 || fail(JpegScanEnd::data_ends); }
    // n bits as a run length's extra count, or -1 (failure set) where the data ends.
    int count(int n) {
        const int v = in.bits(n);
        if (v < 0) fail(JpegScanEnd::data_ends);
        return v;
    }
    // The value of a coefficient whose n magnitude bits are v (F.2.2.1 EXTEND).
    static int extend(int v, int n) { return v < (1 << (n - 1)) ? v - (1 << n) + 1 : v; }
    // An end-of-band code (G.1.2.2): its run's extra bits give how many blocks, this one
    // included, have nothing more in the band.
    bool start_end_of_band(int run) {
        const int extra = count(run);
        if (extra < 0) return false;
        end_of_band_run = (1u << run) + static_cast<unsigned>(extra);
        return true;
    }

    // Sequential: a DC difference and up to 63 AC coefficients (F.2.2.1, F.2.2.2).
    bool sequential_block(const JpegHuffman& dc, const JpegHuffman& ac, int component) {
        if (!dc_difference(dc, component)) return false;
        for (int k = 1; k < 64;) {
            const int rs = symbol(ac);
            if (rs < 0) return false;
            const int run = rs >> 4, bits = rs & 15;
            if (bits == 0) {
                if (run != 15) break;  // end of block (stb ends on any run but 15)
                k += 16;
                continue;
            }
            if (!read(bits)) return false;
            k += run + 1;
        }
        return true;
    }

    // Progressive DC: the first scan's difference, or one refinement bit (G.1.2.1).
    bool dc_block(const JpegHuffman& dc, bool first, uint64_t* nonzero, int component) {
        if (!first) return read(1);
        if (nonzero) *nonzero = 0;  // stb clears the block here
        return dc_difference(dc, component);
    }

    // A DC difference (F.2.2.1) added to the component's predictor. stb multiplies the sum by
    // the quantizer (up to 65535) or 2^Al (up to 2^13) in an int: past 2^15 it can overflow,
    // where a real 8-bit JPEG's DC stays under 2^11.
    bool dc_difference(const JpegHuffman& dc, int component) {
        const int size = symbol(dc);
        if (size < 0) return false;
        if (size > 15) return fail(JpegScanEnd::bad_code);  // stb refuses it too
        const int v = count(size);
        if (v < 0) return false;
        int& sum = predictor[component];
        if (size > 0) sum += extend(v, size);
        return (sum >= -32768 && sum <= 32768) || fail(JpegScanEnd::bad_dc);
    }

    // Progressive AC, first scan of a band (G.1.2.2): coefficients Ss..Se at 2^Al, runs of
    // empty blocks. A coefficient is marked by its zig-zag index, past 63 as 63 (stb's table).
    bool ac_first_block(const JpegHuffman& ac, int start, int end, int low, uint64_t& nonzero) {
        if (end_of_band_run > 0) {
            --end_of_band_run;
            return true;
        }
        for (int k = start; k <= end;) {
            const int rs = symbol(ac);
            if (rs < 0) return false;
            const int run = rs >> 4, bits = rs & 15;
            if (bits == 0) {
                if (run < 15) {
                    if (!start_end_of_band(run)) return false;
                    --end_of_band_run;  // this block is the first of them
                    break;
                }
                k += 16;
                continue;
            }
            k += run;
            const int v = count(bits);
            if (v < 0) return false;
            const int value = extend(v, bits);
            // stb stores the value in 16 bits, over what the position held: one that wraps to 0
            // leaves a zero coefficient, even where an earlier scan of the band put another.
            if (static_cast<int16_t>(value * (1 << low)) != 0) {
                nonzero |= bit_of(k);
            } else {
                nonzero &= ~bit_of(k);
            }
            ++k;
        }
        return true;
    }

    // Progressive AC refinement (G.1.2.3): a correction bit for every coefficient already
    // non-zero, new coefficients of magnitude 1 placed after runs of zero ones.
    bool ac_refine_block(const JpegHuffman& ac, int start, int end, uint64_t& nonzero) {
        int k = start;
        if (end_of_band_run == 0) {
            while (k <= end) {
                const int rs = symbol(ac);
                if (rs < 0) return false;
                int run = rs >> 4;
                const int bits = rs & 15;
                bool placed = false;
                if (bits == 0) {
                    if (run < 15) {
                        if (!start_end_of_band(run)) return false;
                        break;  // the rest of the block: as in a run of empty blocks
                    }
                } else {
                    if (bits != 1) return fail(JpegScanEnd::bad_code);  // stb refuses it too
                    if (!read(1)) return false;                         // sign
                    placed = true;
                }
                for (; k <= end; ++k) {
                    if (nonzero & bit_of(k)) {
                        if (!read(1)) return false;  // correction bit
                    } else if (run-- == 0) {
                        if (placed) nonzero |= bit_of(k);
                        ++k;
                        break;
                    }
                }
            }
            if (end_of_band_run == 0) return true;
        }
        for (; k <= end; ++k) {
            if ((nonzero & bit_of(k)) && !read(1)) return false;
        }
        --end_of_band_run;
        return true;
    }

    static uint64_t bit_of(int k) { return uint64_t{1} << (k > 63 ? 63 : k); }
};

}  // namespace recolor::io::detail
