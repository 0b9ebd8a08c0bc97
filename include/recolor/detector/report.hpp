// The evaluation report: one HTML file that opens offline and can be mailed or archived as is.
// Everything is inside it: panels are PNGs in base64 data: URIs, the ROC curves, histogram and
// heatmap scale are SVG drawn here, and a Content-Security-Policy forbids any fetch, so a page
// that needed the network would show it (the browser test looks for the console message). A
// small inline script marks <body data-check="ok"> once every image has decoded; the headless
// Chromium test reads that mark from the DOM.
//
// metrics.json, as the report reads it (variant_metrics writes one entry; every field is
// optional, a missing one shows as "-"):
//   {"<variant>": {"auc", "precision_at_k", "recall_at_k", "f1_at_k", "k",
//                  "threshold": {"value", "true_positive", "false_positive", "true_negative",
//                                "false_negative", ...}},
//    <other scalars, objects of scalars>: shown as the run's settings}
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <stb_image_write.h>

#include "recolor/core/error.hpp"
#include "recolor/detector/metrics.hpp"
#include "recolor/detector/score.hpp"
#include "recolor/io/image.hpp"

namespace recolor::detector {

// One image shown in the grid, with its scores by variant name ("sum", "leaf_mean", ...).
struct ReportImage {
    std::string file;
    bool diseased = false;
    std::map<std::string, double> scores;
    io::ImageRgb8 panel;  // photo | gray | recolouring | heatmap (panel_image)
};

// The held-out scores of one scoring variant.
struct ReportVariant {
    std::string name;
    std::vector<double> healthy, diseased;
};

// One variant's entry of metrics.json: AUC, the at-K figures with K = number of diseased
// images, and the confusion matrix at a threshold chosen beforehand from healthy scores.
inline nlohmann::json variant_metrics(const std::vector<double>& healthy,
                                      const std::vector<double>& diseased, double threshold) {
    const AtK k = at_k(healthy, diseased, static_cast<long>(diseased.size()));
    const Confusion c = confusion(healthy, diseased, threshold);
    return {{"auc", roc_auc(healthy, diseased)},
            {"precision_at_k", k.precision},
            {"recall_at_k", k.recall},
            {"f1_at_k", k.f1},
            {"k", k.k},
            {"threshold",
             {{"value", threshold},
              {"true_positive", c.true_positive},
              {"false_positive", c.false_positive},
              {"true_negative", c.true_negative},
              {"false_negative", c.false_negative}}}};
}

namespace report_detail {

using nlohmann::json;

// The length of the valid UTF-8 sequence at text[i], or 0 when it is not one.
inline size_t utf8_length(const std::string& text, size_t i) {
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char lead = byte(i);
    if (lead < 0x80) return 1;
    const size_t n = lead >= 0xC2 && lead <= 0xDF   ? 2
                     : lead >= 0xE0 && lead <= 0xEF ? 3
                     : lead >= 0xF0 && lead <= 0xF4 ? 4
                                                    : 0;
    if (n == 0 || i + n > text.size()) return 0;
    for (size_t k = 1; k < n; ++k)
        if ((byte(i + k) & 0xC0) != 0x80) return 0;
    return n;
}

// HTML text: the five special characters as entities, and bytes that are not UTF-8 (a file
// name from another system) as U+FFFD, so the page stays valid UTF-8.
inline std::string escape(const std::string& text) {
    static const char* entities[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
    std::string out;
    for (size_t i = 0; i < text.size();) {
        const size_t n = utf8_length(text, i);
        if (n == 0) {
            out += "\xEF\xBF\xBD";
            ++i;
            continue;
        }
        const size_t k = n == 1 ? std::string_view("&<>\"'").find(text[i]) : std::string_view::npos;
        out += k == std::string_view::npos ? text.substr(i, n) : std::string(entities[k]);
        i += n;
    }
    return out;
}

// Fixed decimals for rates, fewer as the magnitude grows (sums run to 10^5).
inline std::string number(double v, int decimals = 3) {
    if (!std::isfinite(v)) return v != v ? "NaN" : (v > 0 ? "inf" : "-inf");
    if (std::fabs(v) >= 100)
        decimals = 0;
    else if (std::fabs(v) >= 10)
        decimals = std::min(decimals, 2);
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", decimals, v);
    return buffer;
}

inline std::string scalar(const json& j) {
    if (j.is_number_integer() || j.is_number_unsigned()) return j.dump();
    if (j.is_number()) return number(j.get<double>());
    if (j.is_string()) return escape(j.get<std::string>());
    if (j.is_boolean()) return j.get<bool>() ? "yes" : "no";
    if (j.is_array()) return "[" + std::to_string(j.size()) + " values]";
    return "-";
}

// The value at a path of object keys, or null where any step is missing.
inline json at(const json& j, std::initializer_list<const char*> path) {
    const json* node = &j;
    for (const char* key : path) {
        if (!node->is_object() || !node->contains(key)) return nullptr;
        node = &(*node)[key];
    }
    return *node;
}

inline std::string base64(const std::vector<unsigned char>& bytes) {
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (size_t i = 0; i < bytes.size(); i += 3) {
        const size_t n = std::min<size_t>(3, bytes.size() - i);
        unsigned v = bytes[i] << 16;
        if (n > 1) v |= bytes[i + 1] << 8;
        if (n > 2) v |= bytes[i + 2];
        for (size_t k = 0; k < 4; ++k) out += k <= n ? digits[(v >> (18 - 6 * k)) & 63] : '=';
    }
    return out;
}

inline std::string png_data_uri(const io::ImageRgb8& image, const std::string& file) {
    RECOLOR_CHECK(image.width > 0 && image.height > 0 &&
                      image.pixels.size() == static_cast<size_t>(image.width) * image.height * 3,
                  "write_report: panel of '" << file << "' is " << image.width << "x"
                                             << image.height << " with " << image.pixels.size()
                                             << " bytes, expected width * height * 3");
    std::vector<unsigned char> png;
    auto append = [](void* context, void* data, int size) {
        auto* out = static_cast<std::vector<unsigned char>*>(context);
        out->insert(out->end(), static_cast<unsigned char*>(data),
                    static_cast<unsigned char*>(data) + size);
    };
    RECOLOR_CHECK(stbi_write_png_to_func(append, &png, image.width, image.height, 3,
                                         image.pixels.data(), image.width * 3),
                  "write_report: PNG encoding of the panel of '" << file << "' failed");
    return "data:image/png;base64," + base64(png);
}

// Okabe-Ito colours: told apart with every common colour-vision deficiency.
inline const char* colour(size_t i) {
    static const char* palette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                    "#E69F00", "#56B4E9", "#000000"};
    return palette[i % 7];
}

// Plot frame shared by the charts: an origin, a size, and x/y mappings into the drawing.
struct Frame {
    double left, top, width, height, x_lo, x_hi, y_lo, y_hi;
    double x(double v) const { return left + (v - x_lo) / (x_hi - x_lo) * width; }
    double y(double v) const { return top + height - (v - y_lo) / (y_hi - y_lo) * height; }
};

inline void axes(std::ostringstream& s, const Frame& f, const std::string& x_label,
                 const std::string& y_label, int ticks) {
    s << "<rect x='" << f.left << "' y='" << f.top << "' width='" << f.width << "' height='"
      << f.height << "' fill='none' stroke='#444'/>";
    for (int i = 0; i <= ticks; ++i) {
        const double xv = f.x_lo + (f.x_hi - f.x_lo) * i / ticks;
        const double yv = f.y_lo + (f.y_hi - f.y_lo) * i / ticks;
        s << "<text x='" << f.x(xv) << "' y='" << f.top + f.height + 16 << "' text-anchor='middle'>"
          << number(xv, 2) << "</text>";
        s << "<text x='" << f.left - 6 << "' y='" << f.y(yv) + 4 << "' text-anchor='end'>"
          << number(yv, 2) << "</text>";
        s << "<line x1='" << f.left << "' x2='" << f.left + f.width << "' y1='" << f.y(yv)
          << "' y2='" << f.y(yv) << "' stroke='#ddd'/>";
    }
    s << "<text x='" << f.left + f.width / 2 << "' y='" << f.top + f.height + 36
      << "' text-anchor='middle'>" << escape(x_label) << "</text>";
    s << "<text transform='translate(14," << f.top + f.height / 2
      << ") rotate(-90)' text-anchor='middle'>" << escape(y_label) << "</text>";
}

// ROC curves, one per variant, over the chance diagonal; the legend gives each AUC.
inline std::string roc_svg(const std::vector<ReportVariant>& variants, const std::string& primary) {
    const Frame f{60, 15, 340, 340, 0, 1, 0, 1};
    std::ostringstream s;
    s << "<svg class='chart' width='430' height='410' viewBox='0 0 430 410' role='img'>";
    axes(s, f, "false positive rate", "true positive rate", 5);
    s << "<line x1='" << f.x(0) << "' y1='" << f.y(0) << "' x2='" << f.x(1) << "' y2='" << f.y(1)
      << "' stroke='#999' stroke-dasharray='4 4'/>";
    size_t row = 0;
    for (size_t i = 0; i < variants.size(); ++i) {
        const ReportVariant& v = variants[i];
        if (v.healthy.empty() || v.diseased.empty()) continue;
        s << "<polyline fill='none' stroke='" << colour(i) << "' stroke-width='"
          << (v.name == primary ? 3 : 1.5) << "' points='";
        for (auto [fpr, tpr] : roc_curve(v.healthy, v.diseased)) {
            s << f.x(fpr) << "," << f.y(tpr) << " ";
        }
        const double ly = f.y(0) - 12 - 18.0 * static_cast<double>(row++);
        s << "'/><line x1='" << f.x(0.45) << "' x2='" << f.x(0.53) << "' y1='" << ly - 4 << "' y2='"
          << ly - 4 << "' stroke='" << colour(i) << "' stroke-width='3'/><text x='" << f.x(0.55)
          << "' y='" << ly << "'>" << escape(v.name) << " (AUC "
          << number(roc_auc(v.healthy, v.diseased)) << ")</text>";
    }
    return s.str() + "</svg>";
}

// Healthy and diseased score histograms of one variant, each as a fraction of its own images,
// with the decision threshold where metrics.json gives one.
inline std::string histogram_svg(const ReportVariant& v, const json& threshold) {
    std::vector<double> all(v.healthy);
    all.insert(all.end(), v.diseased.begin(), v.diseased.end());
    if (all.empty()) return "<p>No scores.</p>";
    const int bins = 24;
    double lo = *std::min_element(all.begin(), all.end());
    double hi = *std::max_element(all.begin(), all.end());
    if (hi <= lo) hi = lo + 1;
    const auto fractions = [&](const std::vector<double>& scores) {
        std::vector<double> h(bins, 0.0);
        for (double x : scores) {
            h[std::clamp(static_cast<int>((x - lo) / (hi - lo) * bins), 0, bins - 1)] +=
                1.0 / static_cast<double>(scores.size());
        }
        return h;
    };
    const std::vector<double> groups[2] = {fractions(v.healthy), fractions(v.diseased)};
    double top = 0;
    for (const auto& h : groups) top = std::max(top, *std::max_element(h.begin(), h.end()));
    const Frame f{60, 15, 460, 240, lo, hi, 0, top > 0 ? top * 1.1 : 1};

    std::ostringstream s;
    s << "<svg class='chart' width='540' height='310' viewBox='0 0 540 310' role='img'>";
    axes(s, f, v.name + " score", "fraction of images", 4);
    const char* names[2] = {"healthy", "diseased"};
    const size_t counts[2] = {v.healthy.size(), v.diseased.size()};
    for (int g = 0; g < 2; ++g) {
        for (int b = 0; b < bins; ++b) {
            const double x0 = f.x(lo + (hi - lo) * b / bins),
                         x1 = f.x(lo + (hi - lo) * (b + 1) / bins);
            s << "<rect x='" << x0 << "' y='" << f.y(groups[g][b]) << "' width='" << x1 - x0
              << "' height='" << f.y(0) - f.y(groups[g][b]) << "' fill='" << colour(g)
              << "' fill-opacity='0.5'/>";
        }
        const double ly = f.top + 18 + 18.0 * g;
        s << "<rect x='" << f.left + f.width - 150 << "' y='" << ly - 10
          << "' width='12' height='12' fill='" << colour(g) << "' fill-opacity='0.5'/><text x='"
          << f.left + f.width - 132 << "' y='" << ly << "'>" << names[g] << " (" << counts[g]
          << ")</text>";
    }
    if (threshold.is_number() && threshold.get<double>() >= lo && threshold.get<double>() <= hi) {
        const double tx = f.x(threshold.get<double>());
        s << "<line x1='" << tx << "' x2='" << tx << "' y1='" << f.top << "' y2='" << f.y(0)
          << "' stroke='#000' stroke-dasharray='6 3'/><text x='" << tx + 4 << "' y='" << f.top + 12
          << "'>threshold</text>";
    }
    return s.str() + "</svg>";
}

// The heatmap's fixed colour scale, 0 to heatmap_max CIEDE2000, sampled from heat_colour.
inline std::string heat_scale_svg() {
    std::ostringstream s;
    s << "<svg class='chart' width='540' height='60' viewBox='0 0 540 60' role='img'>"
      << "<defs><linearGradient id='heat'>";
    for (int i = 0; i <= 8; ++i) {
        uint8_t rgb[3];
        heat_colour(heatmap_max * static_cast<float>(i) / 8.0f, rgb);
        s << "<stop offset='" << i / 8.0 << "' stop-color='rgb(" << int(rgb[0]) << ","
          << int(rgb[1]) << "," << int(rgb[2]) << ")'/>";
    }
    s << "</linearGradient></defs><rect x='20' y='5' width='500' height='22' fill='url(#heat)' "
         "stroke='#444'/>";
    for (int i = 0; i <= 4; ++i) {
        const double value = heatmap_max * i / 4.0;
        s << "<text x='" << 20 + 125 * i << "' y='44' text-anchor='middle'>"
          << (i == 4 ? "&#8805;" : "") << number(value, 0) << "</text>";
    }
    return s.str() + "<text x='270' y='58' text-anchor='middle'>CIEDE2000 &#916;E</text></svg>";
}

inline std::string metrics_section(const json& metrics, const std::vector<ReportVariant>& variants,
                                   const std::string& primary) {
    std::ostringstream s;
    s << "<section id='metrics'><h2>Metrics</h2><table><tr><th>variant</th><th>AUC</th><th>K</th>"
         "<th>precision@K</th><th>recall@K</th><th>F1@K</th><th>threshold</th><th>TP</th>"
         "<th>FP</th><th>TN</th><th>FN</th></tr>";
    for (const ReportVariant& v : variants) {
        const json m = at(metrics, {v.name.c_str()});
        s << "<tr" << (v.name == primary ? " class='primary'" : "") << "><td>" << escape(v.name)
          << "</td>";
        s << "<td>" << scalar(at(m, {"auc"})) << "</td>";
        for (const char* key : {"k", "precision_at_k", "recall_at_k", "f1_at_k"}) {
            s << "<td>" << scalar(at(m, {key})) << "</td>";
        }
        for (const char* key :
             {"value", "true_positive", "false_positive", "true_negative", "false_negative"}) {
            s << "<td>" << scalar(at(m, {"threshold", key})) << "</td>";
        }
        s << "</tr>";
    }
    s << "</table>";

    // Confusion matrix of the primary variant at its threshold.
    const json t = at(metrics, {primary.c_str(), "threshold"});
    if (t.is_object()) {
        s << "<h3>" << escape(primary) << " at threshold " << scalar(at(t, {"value"}))
          << "</h3><table class='confusion'><tr><th></th><th>called diseased</th>"
          << "<th>called healthy</th></tr><tr><th>diseased</th><td>"
          << scalar(at(t, {"true_positive"})) << "</td><td>" << scalar(at(t, {"false_negative"}))
          << "</td></tr><tr><th>healthy</th><td>" << scalar(at(t, {"false_positive"}))
          << "</td><td>" << scalar(at(t, {"true_negative"})) << "</td></tr></table>";
    }

    // The run: every other scalar of metrics.json, objects one level deep.
    s << "<h3>Run</h3><dl>";
    for (const auto& [key, value] : metrics.items()) {
        const bool is_variant = std::any_of(variants.begin(), variants.end(),
                                            [&](const ReportVariant& v) { return v.name == key; });
        if (is_variant) continue;
        if (!value.is_object()) {
            s << "<dt>" << escape(key) << "</dt><dd>" << scalar(value) << "</dd>";
            continue;
        }
        for (const auto& [inner, v] : value.items()) {
            s << "<dt>" << escape(key + "." + inner) << "</dt><dd>" << scalar(v) << "</dd>";
        }
    }
    return s.str() + "</dl></section>";
}

// The images, most anomalous first by the primary score, split at the middle of the whole
// held-out ranking; each card gives the image's rank among all held-out images.
inline std::string images_section(const std::vector<ReportImage>& images,
                                  const ReportVariant* primary) {
    std::vector<double> all;
    if (primary) {
        all = primary->healthy;
        all.insert(all.end(), primary->diseased.begin(), primary->diseased.end());
    }
    const auto score = [&](const ReportImage& im) {
        auto it = primary ? im.scores.find(primary->name) : im.scores.end();
        return it == im.scores.end() ? -INFINITY : it->second;
    };
    std::vector<const ReportImage*> order;
    for (const ReportImage& im : images) order.push_back(&im);
    std::stable_sort(order.begin(), order.end(),
                     [&](auto* a, auto* b) { return score(*a) > score(*b); });

    std::ostringstream s;
    s << "<section id='images'><h2>Images</h2><p>Each panel: photo | gray input | recolouring | "
         "CIEDE2000 heatmap.</p>";
    int open = -1;  // 0: most anomalous grid open, 1: least
    for (const ReportImage* im : order) {
        const double x = score(*im);
        const long rank =
            1 + std::count_if(all.begin(), all.end(), [&](double v) { return v > x; });
        const int half = (std::isfinite(x) && 2 * rank <= static_cast<long>(all.size())) ? 0 : 1;
        if (half != open) {
            s << (open >= 0 ? "</div>" : "") << "<h3>"
              << (all.empty() ? "Shown"
                  : half == 0 ? "Most anomalous"
                              : "Least anomalous")
              << "</h3><div class='grid'>";
            open = half;
        }
        s << "<figure class='" << (im->diseased ? "diseased" : "healthy") << "'><img src='"
          << png_data_uri(im->panel, im->file) << "' width='" << im->panel.width << "' height='"
          << im->panel.height << "' alt='" << escape(im->file) << "'><figcaption><b>"
          << escape(im->file) << "</b> <span class='tag'>"
          << (im->diseased ? "diseased" : "healthy") << "</span>";
        if (std::isfinite(x)) s << " rank " << rank << " of " << all.size();
        s << "<br>";
        for (const auto& [name, value] : im->scores) {
            s << escape(name) << " " << number(value) << "&ensp;";
        }
        s << "</figcaption></figure>";
    }
    return s.str() + (open >= 0 ? "</div>" : "") + "</section>";
}

inline constexpr const char* style =
    "body{font:14px/1.4 sans-serif;margin:24px;color:#222}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}tr.primary{font-weight:bold}"
    "td:first-child,th:first-child{text-align:left}"
    "dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dd{margin:0}"
    ".chart text{font-size:12px}.grid{display:grid;gap:12px;"
    "grid-template-columns:repeat(auto-fill,minmax(520px,1fr))}figure{margin:0;padding:6px;"
    "border:1px solid #ccc}figure img{width:100%;height:auto;image-rendering:pixelated}"
    "figure.diseased .tag{color:#D55E00}figure.healthy .tag{color:#0072B2}";

// Marks <body data-check> with "ok" once every image decoded, or with what went wrong.
inline constexpr const char* check_script =
    "(function(){var b=document.body;window.addEventListener('error',function(e){"
    "b.setAttribute('data-check','error: '+e.message);});window.addEventListener('load',"
    "function(){if(b.hasAttribute('data-check'))return;var bad=0;for(var i=0;"
    "i<document.images.length;++i){var m=document.images[i];if(!m.complete||m.naturalWidth===0)"
    "++bad;}b.setAttribute('data-images',String(document.images.length));"
    "b.setAttribute('data-check',bad?bad+' broken images':'ok');});})();";

}  // namespace report_detail

// Writes the report to `html` (through a temporary file and a rename, so a reader never sees
// half a page). `images` are the ones to show; primary_variant names the variant whose
// histogram is drawn and whose score (a key of ReportImage::scores) ranks the images.
inline void write_report(const std::filesystem::path& html, const std::string& title,
                         const nlohmann::json& metrics, const std::vector<ReportVariant>& variants,
                         const std::string& primary_variant, const std::vector<ReportImage>& images,
                         const std::string& heat_scale_note) {
    using namespace report_detail;
    const ReportVariant* primary = nullptr;
    for (const ReportVariant& v : variants) primary = v.name == primary_variant ? &v : primary;

    // Page.
    std::ostringstream page;
    page << "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
         << "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
         << "img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
         << "<title>" << escape(title) << "</title><style>" << style << "</style></head><body>"
         << "<header><h1>" << escape(title) << "</h1></header>"
         << metrics_section(metrics, variants, primary_variant)
         << "<section id='roc'><h2>ROC curves</h2>" << roc_svg(variants, primary_variant)
         << "</section><section id='histogram'><h2>Scores: " << escape(primary_variant) << "</h2>"
         << (primary ? histogram_svg(*primary,
                                     at(metrics, {primary_variant.c_str(), "threshold", "value"}))
                     : "<p>No variant named " + escape(primary_variant) + ".</p>")
         << "</section>" << images_section(images, primary)
         << "<section id='heat-scale'><h2>Heatmap colour scale</h2>" << heat_scale_svg() << "<p>"
         << escape(heat_scale_note) << "</p></section><script>" << check_script
         << "</script></body></html>\n";

    // Atomic write.
    if (html.has_parent_path()) std::filesystem::create_directories(html.parent_path());
    const std::filesystem::path tmp = html.string() + ".tmp" + std::to_string(::getpid());
    {
        std::ofstream out(tmp, std::ios::binary);
        RECOLOR_CHECK(out, "write_report: cannot open '" << tmp.string() << "' for writing");
        out << page.str();
        out.close();
        RECOLOR_CHECK(out, "write_report: writing '" << tmp.string() << "' failed");
    }
    std::error_code error;
    std::filesystem::rename(tmp, html, error);
    if (error) std::filesystem::remove(tmp);
    RECOLOR_CHECK(!error, "write_report: cannot rename '" << tmp.string() << "' to '"
                                                          << html.string()
                                                          << "': " << error.message());
}

}  // namespace recolor::detector
