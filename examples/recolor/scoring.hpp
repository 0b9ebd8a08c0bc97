// Scoring for the recolor program: the files named on its command line, each scored and its
// heatmap and panel written, and the files it writes (scores.csv and other text). Shared by
// `score` and `eval` (commands.hpp). A file that fails is reported and counted; the rest go on.
#pragma once

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "recolor/core/log.hpp"
#include "recolor/detector/score.hpp"
#include "recolor/io/dataset.hpp"
#include "recolor/io/image.hpp"

namespace recolor::cli {

namespace fs = std::filesystem;
using namespace recolor::detector;

// Set by SIGINT and SIGTERM: training saves and stops after the current step.
inline std::atomic<bool> stop_requested{false};

// An error message as a user reads it: the failed check and its source line, which a
// RECOLOR_CHECK appends, are kept only with RECOLOR_LOG=debug.
inline std::string user_message(const std::string& message) {
    if (log_level() >= LogLevel::debug) return message;
    // Only the suffix RECOLOR_CHECK writes, " (check `CONDITION` failed at FILE:LINE)", at the
    // very end: a file name may hold " (check `" too.
    // Its last part, FILE:LINE), holds no quote or space, and ends in digits.
    const size_t check = message.rfind(" (check `");
    const size_t at = message.rfind("` failed at ");
    if (check == std::string::npos || at == std::string::npos || at < check) return message;
    const std::string place = message.substr(at + 12);
    const size_t colon = place.rfind(':');
    const bool suffix = place.size() >= 4 && place.back() == ')' && colon != std::string::npos &&
                        colon + 2 < place.size() &&
                        place.find_first_of("'\" ") == std::string::npos &&
                        place.find_first_not_of("0123456789", colon + 1) == place.size() - 1;
    return suffix ? message.substr(0, check) : message;
}

// A message on one line, whatever the file names in it hold: control characters (a newline in
// a name) are shown escaped, \n or \xNN, and a backslash as \\ so that the two cannot be confused.
inline std::string one_line(const std::string& text) {
    std::string line;
    for (unsigned char ch : text) {
        if (ch == '\n') {
            line += "\\n";
        } else if (ch == '\\') {
            line += "\\\\";
        } else if (ch < 0x20 || ch == 0x7F) {
            static const char hex[] = "0123456789abcdef";
            line += std::string("\\x") + hex[ch >> 4] + hex[ch & 15];
        } else {
            line += static_cast<char>(ch);
        }
    }
    return line;
}

// One report line per file that failed, so that each failure stays on its own line.
inline void report_file_failure(const std::string& what, const fs::path& file,
                                const std::string& reason) {
    std::cerr << one_line("recolor: " + what + " " + file.string() + ": " + user_message(reason))
              << "\n";
}

// Writes a whole text file, or throws naming it: a full disk or a folder in the way is an error,
// not an empty file.
inline void write_text_file(const fs::path& path, const std::string& text) {
    std::ofstream file(path, std::ios::trunc);
    file << text;
    file.close();
    RECOLOR_CHECK(file, "cannot write '" << path.string() << "'");
}

// Images named on the command line: files as given, folders expanded. A folder that cannot be
// listed, or has no images, and an image-named entry that is no readable file (a dangling link,
// a loop of links, a FIFO) go to `failures`; the rest are still scored.
inline std::vector<fs::path> expand_inputs(const std::vector<std::string>& inputs,
                                           std::vector<io::LoadFailure>& failures) {
    std::vector<fs::path> out;
    for (const auto& in : inputs) {
        std::error_code ec;
        if (!fs::is_directory(in, ec)) {
            out.push_back(in);
            continue;
        }
        try {
            for (auto& p : io::list_images(in, &failures)) out.push_back(p);
        } catch (const std::exception& e) {
            failures.push_back({in, e.what()});
        }
    }
    return out;
}

// A unique file stem for each input, for heatmaps/ and panels/.
inline std::string unique_stem(const fs::path& p, std::set<std::string>& used) {
    std::string stem = p.stem().string(), name = stem;
    for (int k = 2; !used.insert(name).second; ++k) name = stem + "_" + std::to_string(k);
    return name;
}

struct Scored {
    fs::path file;
    ImageScore score;
    fs::path panel;  // empty when not written
};

// Scores files in batches, writing heatmaps/ and panels/ under out; failures are reported and
// counted, never fatal.
template <typename D>
std::vector<Scored> score_files(Pix2Pix<D>& model, const std::vector<fs::path>& files,
                                const fs::path& out, bool training_mode, long& failed,
                                bool write_images = true) {
    if (write_images) {
        fs::create_directories(out / "heatmaps");
        fs::create_directories(out / "panels");
    }
    std::set<std::string> used;
    std::vector<Scored> results;
    constexpr size_t batch = 16;
    for (size_t begin = 0; begin < files.size(); begin += batch) {
        if (stop_requested) {
            std::cerr << "recolor: stopped after " << begin << " of " << files.size()
                      << " images\n";
            break;
        }
        std::vector<io::ImageRgb8> photos;
        std::vector<fs::path> names;
        for (size_t i = begin; i < std::min(files.size(), begin + batch); ++i) {
            try {
                photos.push_back(io::load_image(files[i]));
                names.push_back(files[i]);
            } catch (const std::exception& e) {
                report_file_failure("cannot score", files[i], e.what());
                ++failed;
            }
        }
        auto scored = score_images(model, photos, training_mode);
        for (size_t i = 0; i < scored.size(); ++i) {
            results.push_back({names[i], scored[i].score, {}});
            if (!write_images) continue;
            // A heatmap or panel that cannot be written fails that image alone; its score
            // stays in scores.csv.
            const std::string stem = unique_stem(names[i], used);
            try {
                io::write_png(
                    out / "heatmaps" / (stem + ".png"),
                    heatmap_image(scored[i].map, static_cast<int>(model.config.image_size),
                                  photos[i].width, photos[i].height));
                io::write_png(out / "panels" / (stem + ".png"), panel_image(scored[i]));
                results.back().panel = out / "panels" / (stem + ".png");
            } catch (const std::exception& e) {
                report_file_failure("cannot write the images of", names[i], e.what());
                ++failed;
            }
        }
    }
    return results;
}

// A CSV field: quoted, with quotes inside doubled (RFC 4180).
inline std::string csv_field(const std::string& text) {
    std::string out = "\"";
    for (char ch : text) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    return out + "\"";
}

inline void write_scores_csv(const fs::path& path, const std::vector<Scored>& rows,
                             const std::vector<std::string>& labels = {}) {
    std::ofstream csv(path);
    RECOLOR_CHECK(csv, "cannot write '" << path.string() << "'");
    csv << "file,score,leaf_mean,top1_mean,leaf_fraction,black_background"
        << (labels.empty() ? "" : ",label") << "\n"
        << std::setprecision(9);
    for (size_t i = 0; i < rows.size(); ++i) {
        const auto& s = rows[i].score;
        csv << csv_field(rows[i].file.string()) << ',' << s.sum << ',' << s.leaf_mean << ','
            << s.top1_mean << ',' << s.leaf_fraction << ',' << (s.black_background ? 1 : 0);
        if (!labels.empty()) csv << ',' << labels[i];
        csv << "\n";
    }
    csv.close();
    RECOLOR_CHECK(csv, "cannot write '" << path.string() << "'");
}

}  // namespace recolor::cli
