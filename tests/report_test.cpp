// The HTML report: built from synthetic scores and panels, then read back as text (sections,
// escaping, nothing fetched from outside, every PNG decoding to its panel) and opened in
// headless Chromium (the page reports no error and every image decodes; the screenshot has
// the window's size). A deliberately broken copy of the page shows the browser check fails.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <stb_image.h>

#include <recolor/detector/report.hpp>

#include "image_files.hpp"

namespace fs = std::filesystem;
using namespace recolor;
using namespace recolor::detector;

namespace {

struct ReportDir {
    fs::path path;
    explicit ReportDir(const std::string& name)
        : path(fs::temp_directory_path() /
               ("recolor_report_" + name + "_" + std::to_string(::getpid()))) {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~ReportDir() { fs::remove_all(path); }
};

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

// A 4 x 12 by 12 panel whose pixels depend on the seed, so each image is told apart.
io::ImageRgb8 panel(int seed) {
    io::ImageRgb8 p{48, 12, std::vector<uint8_t>(48 * 12 * 3)};
    for (size_t i = 0; i < p.pixels.size(); ++i)
        p.pixels[i] = static_cast<uint8_t>(i * 7 + seed * 31);
    return p;
}

// Three variants, healthy scores lower on the whole, and six images with every variant's score.
struct Synthetic {
    std::vector<ReportVariant> variants;
    std::vector<ReportImage> images;
    nlohmann::json metrics;
};

Synthetic synthetic() {
    Synthetic s;
    std::mt19937 rng(7);
    for (const char* name : {"sum", "leaf_mean", "top1_mean"}) {
        ReportVariant v{name, {}, {}};
        std::normal_distribution<double> healthy(10, 2), diseased(14, 3);
        for (int i = 0; i < 40; ++i) v.healthy.push_back(healthy(rng));
        for (int i = 0; i < 30; ++i) v.diseased.push_back(diseased(rng));
        s.metrics[name] = variant_metrics(v.healthy, v.diseased, percentile(v.healthy, 95));
        s.variants.push_back(v);
    }
    s.metrics["images"] = {{"healthy", 40}, {"diseased", 30}};
    s.metrics["crop"] = "leaf <potato> & \"co\"";
    // Three from the top of the primary ranking, three from the bottom.
    for (int i = 0; i < 6; ++i) {
        const bool top = i < 3;
        ReportImage im{
            "image_" + std::to_string(i) + (i == 0 ? "_<odd>&.jpg" : ".jpg"), top, {}, panel(i)};
        for (const ReportVariant& v : s.variants) {
            std::vector<double> all(v.healthy);
            all.insert(all.end(), v.diseased.begin(), v.diseased.end());
            std::sort(all.begin(), all.end());
            im.scores[v.name] = top ? all[all.size() - 1 - i] : all[i - 3];
        }
        s.images.push_back(im);
    }
    return s;
}

void write(const fs::path& html, const Synthetic& s) {
    write_report(html, "Potato <early> & \"late\" blight", s.metrics, s.variants, "sum", s.images,
                 "Heatmap: CIEDE2000 per pixel, 0 black to 40 white <fixed>.");
}

// Every src attribute's base64 payload, decoded.
std::vector<std::vector<unsigned char>> embedded_pngs(const std::string& html) {
    const std::string prefix = "src='data:image/png;base64,";
    std::vector<std::vector<unsigned char>> out;
    for (size_t at = html.find(prefix); at != std::string::npos; at = html.find(prefix, at + 1)) {
        const size_t begin = at + prefix.size(), end = html.find('\'', begin);
        const std::string text = html.substr(begin, end - begin);
        REQUIRE(text.size() % 4 == 0);
        const std::string decoded = test_files::base64_decode(text);  // throws on a bad digit
        const std::vector<unsigned char> bytes(decoded.begin(), decoded.end());
        out.push_back(bytes);
    }
    return out;
}

// Runs a shell command under `timeout 60`; returns its exit status.
int run(const std::string& command) {
    const int status = std::system(("timeout 60 " + command).c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const char* chromium_flags =
    " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
    " --disable-background-networking --disable-component-update --disable-sync";

struct BrowserResult {
    std::string dom, log;
    // What the page wrote to the console (messages, uncaught errors, policy refusals).
    std::string console() const {
        std::istringstream in(log);
        std::string line, out;
        while (std::getline(in, line)) {
            if (line.find(":CONSOLE") != std::string::npos) out += line + "\n";
        }
        return out;
    }
    std::string body_tag() const {
        const size_t at = dom.find("<body");
        return at == std::string::npos ? dom.substr(0, 200)
                                       : dom.substr(at, dom.find('>', at) - at + 1);
    }
};

// Loads the page, lets it run for up to 5 s of virtual time, and returns the DOM and the log.
BrowserResult open_in_chromium(const fs::path& html, const fs::path& dir) {
    const fs::path profile = dir / "profile_dom", dom = dir / "dom.html", log = dir / "dom.log";
    fs::remove_all(profile);
    const int rc = run("/usr/bin/chromium" + std::string(chromium_flags) + " --user-data-dir='" +
                       profile.string() + "' --enable-logging=stderr --v=0 --dump-dom" +
                       " --virtual-time-budget=5000 'file://" + html.string() + "' >'" +
                       dom.string() + "' 2>'" + log.string() + "'");
    CHECK_MESSAGE(rc == 0, "chromium --dump-dom exited with " << rc << ": " << read_text(log));
    return {read_text(dom), read_text(log)};
}

}  // namespace

TEST_SUITE("report") {
    TEST_CASE("base64 and HTML escaping") {
        using report_detail::base64;
        // RFC 4648 section 10 test vectors.
        auto b = [](const std::string& s) { return base64({s.begin(), s.end()}); };
        CHECK(b("") == "");
        CHECK(b("f") == "Zg==");
        CHECK(b("fo") == "Zm8=");
        CHECK(b("foo") == "Zm9v");
        CHECK(b("foob") == "Zm9vYg==");
        CHECK(b("fooba") == "Zm9vYmE=");
        CHECK(b("foobar") == "Zm9vYmFy");
        CHECK(report_detail::escape("<a href=\"x\">&'") ==
              "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        // UTF-8 passes; bytes that are not UTF-8 (a Latin-1 file name, a cut sequence) become
        // U+FFFD, so the page stays valid UTF-8.
        CHECK(report_detail::escape("caf\xC3\xA9 \xE2\x9C\x93") == "caf\xC3\xA9 \xE2\x9C\x93");
        CHECK(report_detail::escape("caf\xE9<") == "caf\xEF\xBF\xBD&lt;");
        CHECK(report_detail::escape("\xE2\x9C") == "\xEF\xBF\xBD\xEF\xBF\xBD");
    }

    TEST_CASE("sections, escaping, nothing external, embedded panels") {
        ReportDir dir("sections");
        const Synthetic s = synthetic();
        const fs::path html = dir.path / "out" / "report.html";
        write(html, s);
        write(html, s);  // replacing an existing report leaves no temporary behind
        CHECK(std::distance(fs::directory_iterator(html.parent_path()), fs::directory_iterator()) ==
              1);
        const std::string page = read_text(html);

        for (const char* id : {"metrics", "roc", "histogram", "images", "heat-scale"}) {
            CHECK_MESSAGE(page.find("<section id='" + std::string(id) + "'>") != std::string::npos,
                          "missing section " << id);
        }
        CHECK(count(page, "<polyline") == 3);  // one ROC curve per variant
        CHECK(page.find("Most anomalous") != std::string::npos);
        CHECK(page.find("Least anomalous") != std::string::npos);
        CHECK(page.find("rank 1 of 70") != std::string::npos);
        CHECK(page.find("rank 70 of 70") != std::string::npos);
        // The AUC, in the table (from metrics.json) and the ROC legend (from the scores).
        const std::string auc = report_detail::number(s.metrics["sum"]["auc"].get<double>());
        CHECK(count(page, auc) >= 2);

        // Escaping: no raw text from the caller reaches the markup.
        CHECK(page.find("Potato &lt;early&gt; &amp; &quot;late&quot; blight") != std::string::npos);
        CHECK(page.find("<early>") == std::string::npos);
        CHECK(page.find("image_0_&lt;odd&gt;&amp;.jpg") != std::string::npos);
        CHECK(page.find("leaf &lt;potato&gt;") != std::string::npos);
        CHECK(page.find("&lt;fixed&gt;") != std::string::npos);

        // Offline: no address anywhere, every source is a data: URI.
        CHECK(page.find("http://") == std::string::npos);
        CHECK(page.find("https://") == std::string::npos);
        CHECK(count(page, "src=") == s.images.size());
        CHECK(count(page, "src='data:image/png;base64,") == s.images.size());

        // Each PNG decodes, losslessly, to a panel of the images (sorted by score: any order).
        const auto pngs = embedded_pngs(page);
        REQUIRE(pngs.size() == s.images.size());
        for (const auto& png : pngs) {
            int w = 0, h = 0, c = 0;
            stbi_uc* pixels =
                stbi_load_from_memory(png.data(), static_cast<int>(png.size()), &w, &h, &c, 3);
            REQUIRE(pixels != nullptr);
            const std::vector<uint8_t> decoded(pixels, pixels + w * h * 3);
            stbi_image_free(pixels);
            bool found = false;
            for (const ReportImage& im : s.images) found |= im.panel.pixels == decoded;
            CHECK((w == 48 && h == 12 && found));
        }
    }

    TEST_CASE("a bad panel is refused, naming its file") {
        ReportDir dir("bad_panel");
        Synthetic s = synthetic();
        s.images[2].panel.pixels.pop_back();
        CHECK_THROWS_WITH_AS(write(dir.path / "report.html", s), doctest::Contains("image_2.jpg"),
                             recolor::Error);
        CHECK(fs::is_empty(dir.path));
    }

    TEST_CASE("opens offline in headless Chromium without errors") {
        if (!fs::exists("/usr/bin/chromium")) {
            MESSAGE("skipped: chromium not installed (Debian package chromium)");
            return;
        }
        ReportDir dir("chromium");
        const Synthetic s = synthetic();
        const fs::path html = dir.path / "report.html";
        write(html, s);

        // Screenshot: a PNG of the window's size.
        const fs::path shot = dir.path / "shot.png", log = dir.path / "shot.log";
        const int rc =
            run("/usr/bin/chromium" + std::string(chromium_flags) + " --user-data-dir='" +
                (dir.path / "profile_shot").string() + "' --screenshot='" + shot.string() +
                "' --window-size=1200,2000 'file://" + html.string() + "' >'" + log.string() +
                "' 2>&1");
        CHECK_MESSAGE(rc == 0,
                      "chromium --screenshot exited with " << rc << ": " << read_text(log));
        const std::string png = read_text(shot);
        REQUIRE(png.size() > 24);
        CHECK(png.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
        const auto be32 = [&](size_t at) {
            return (static_cast<unsigned char>(png[at]) << 24) |
                   (static_cast<unsigned char>(png[at + 1]) << 16) |
                   (static_cast<unsigned char>(png[at + 2]) << 8) |
                   static_cast<unsigned char>(png[at + 3]);
        };
        CHECK(be32(16) == 1200);  // IHDR width
        CHECK(be32(20) == 2000);  // IHDR height

        // The page's own check ran, found every image decoded, and nothing reached the console.
        const BrowserResult good = open_in_chromium(html, dir.path);
        CHECK_MESSAGE(good.dom.find("data-check=\"ok\"") != std::string::npos, good.body_tag());
        CHECK(good.dom.find("data-images=\"" + std::to_string(s.images.size()) + "\"") !=
              std::string::npos);
        CHECK_MESSAGE(good.console().empty(), good.console());

        // Control: a corrupted panel and an outside address are both caught.
        std::string broken = read_text(html);
        const size_t payload = broken.find("base64,") + 7;
        broken.replace(payload, 64, std::string(64, 'A'));
        broken.replace(broken.find("<script>"), 0, "<img src='http://127.0.0.1:9/x.png'>");
        const fs::path broken_html = dir.path / "broken.html";
        std::ofstream(broken_html) << broken;
        const BrowserResult bad = open_in_chromium(broken_html, dir.path);
        CHECK_MESSAGE(bad.dom.find("data-check=\"2 broken images\"") != std::string::npos,
                      bad.body_tag());
        // The outside address reaches the console as a Content-Security-Policy refusal.
        CHECK_MESSAGE(bad.console().find("Content Security Policy") != std::string::npos,
                      bad.console());
    }
}
