// Scoring: recolour the gray version of a photo, compare it with the photo pixel by pixel in
// CIEDE2000, and summarise the map. The paper's score is the sum over the image (at model
// size, so photos of any size compare); beside it, the mean over the leaf (the background
// left out) and the mean of the leaf's brightest 1 % of pixels, which a small lesion moves more.
//
// The generator runs on the model's device; the recolouring comes back to the host, where the
// heatmap and panel need it, and the map is computed there by the CPU code on every device
// (not by the fused kernel in kernels/delta_e.cuh), so that the scores of two devices differ
// only by the generator's rounding.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <stb/stb_image_resize.h>

#include "recolor/color.hpp"
#include "recolor/detector/pix2pix.hpp"
#include "recolor/io/image.hpp"

namespace recolor::detector {

// Background detection. A PlantVillage "segmented" photo has its leaf on near-black (JPEG
// leaves small values, so a threshold rather than == 0); a plain photo has a backdrop whose
// colour is what the image border shows.
inline constexpr int black_background_luma = 16;       // below: background on black images
inline constexpr double backdrop_lab_distance = 18.0;  // closer to the border colour: backdrop

struct LeafMask {
    std::vector<uint8_t> foreground;  // H x W, 1 = leaf
    bool black_background = false;
    double leaf_fraction = 0;
};

inline LeafMask leaf_mask(const io::ImageRgb8& image) {
    const int w = image.width, h = image.height;
    const auto pixel = [&](int x, int y) {
        return &image.pixels[(static_cast<size_t>(y) * w + x) * 3];
    };

    // Border: the outer ring of pixels, its median luma and median Lab colour.
    std::vector<int> lumas;
    std::vector<double> ls, as, bs;
    for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
            if (y > 1 && y < h - 2 && x > 1 && x < w - 2) continue;
            const uint8_t* p = pixel(x, y);
            lumas.push_back(io::luma(p[0], p[1], p[2]));
            auto lab = color::srgb_to_lab<double>(p[0] / 255.0, p[1] / 255.0, p[2] / 255.0);
            ls.push_back(lab.L), as.push_back(lab.a), bs.push_back(lab.b);
        }
    }
    auto median = [](auto v) {
        std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
        return v[v.size() / 2];
    };
    LeafMask mask;
    mask.foreground.assign(static_cast<size_t>(w) * h, 1);
    mask.black_background = median(lumas) < black_background_luma;
    const color::Lab<double> backdrop{median(ls), median(as), median(bs)};

    // Classify every pixel.
    long leaf = 0;
    for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
            const uint8_t* p = pixel(x, y);
            bool background;
            if (mask.black_background) {
                background = io::luma(p[0], p[1], p[2]) < black_background_luma;
            } else {
                auto lab = color::srgb_to_lab<double>(p[0] / 255.0, p[1] / 255.0, p[2] / 255.0);
                const double d =
                    std::hypot(lab.L - backdrop.L, lab.a - backdrop.a, lab.b - backdrop.b);
                background = d < backdrop_lab_distance;
            }
            mask.foreground[static_cast<size_t>(y) * w + x] = background ? 0 : 1;
            leaf += background ? 0 : 1;
        }
    }
    mask.leaf_fraction = static_cast<double>(leaf) / (static_cast<double>(w) * h);
    return mask;
}

// The scores of one image.
struct ImageScore {
    double sum = 0;        // the paper's anomaly score: sum of the map at model size
    double leaf_mean = 0;  // mean over leaf pixels
    double top1_mean = 0;  // mean of the top 1 % of leaf pixels
    double leaf_fraction = 0;
    bool black_background = false;
};

// Everything scoring one photo produced, at model size.
struct ScoredImage {
    ImageScore score;
    io::ImageRgb8 photo;        // resized to model size
    io::ImageRgb8 recolouring;  // the generator's output
    std::vector<float> map;     // CIEDE2000 per pixel, S x S
    LeafMask mask;
};

inline ImageScore summarise(const std::vector<float>& map, const LeafMask& mask, double sum) {
    ImageScore s;
    s.sum = sum;
    s.leaf_fraction = mask.leaf_fraction;
    s.black_background = mask.black_background;
    std::vector<float> leaf;
    for (size_t i = 0; i < map.size(); ++i) {
        if (mask.foreground[i]) leaf.push_back(map[i]);
    }
    if (leaf.empty()) leaf = map;  // no leaf found: the whole image stands in
    double total = 0;
    for (float v : leaf) total += v;
    s.leaf_mean = total / static_cast<double>(leaf.size());
    const size_t top = std::max<size_t>(1, leaf.size() / 100);
    std::nth_element(leaf.begin(), leaf.begin() + (leaf.size() - top), leaf.end());
    double top_total = 0;
    for (size_t i = leaf.size() - top; i < leaf.size(); ++i) top_total += leaf[i];
    s.top1_mean = top_total / static_cast<double>(top);
    return s;
}

// Scores a batch of photos (any sizes) with one forward pass of the generator. In eval mode
// (the default) a photo's score does not depend on the batch it is in.
template <typename D>
std::vector<ScoredImage> score_images(Pix2Pix<D>& model, const std::vector<io::ImageRgb8>& photos,
                                      bool training_mode = false) {
    const int size = static_cast<int>(model.config.image_size);
    const long plane = static_cast<long>(size) * size;
    std::vector<ScoredImage> out(photos.size());
    if (photos.empty()) return out;

    // Recolour.
    Tensor<float> gray = Tensor<float>::empty({static_cast<long>(photos.size()), 1, size, size});
    for (size_t i = 0; i < photos.size(); ++i) {
        out[i].photo = io::resize(photos[i], size, size);
        Tensor<float> g = io::to_gray_tensor(out[i].photo);
        std::copy(g.data(), g.data() + plane, gray.data() + i * plane);
    }
    // In training mode batch norm uses the batch's statistics, so each image goes alone (as in
    // the pix2pix reference, batch 1) and its score does not depend on its neighbours.
    Tensor<float> recoloured;
    if (!training_mode) {
        recoloured = model.recolor(gray.template to<D>(), false).template to<CPU>();
    } else {
        recoloured = Tensor<float>::empty({static_cast<long>(photos.size()), 3, size, size});
        for (size_t i = 0; i < photos.size(); ++i) {
            Tensor<float> one = Tensor<float>::from_vector(
                {1, 1, size, size},
                std::vector<float>(gray.data() + i * plane, gray.data() + (i + 1) * plane));
            Tensor<float> out = model.recolor(one.template to<D>(), true).template to<CPU>();
            std::copy(out.data(), out.data() + 3 * plane, recoloured.data() + i * 3 * plane);
        }
    }

    // Compare and summarise.
    for (size_t i = 0; i < photos.size(); ++i) {
        ScoredImage& s = out[i];
        const float* rgb = recoloured.data() + i * 3 * plane;
        s.recolouring = io::from_rgb_tensor(rgb, size, size);
        s.map.resize(static_cast<size_t>(plane));
        s.mask = leaf_mask(s.photo);
        color::DeltaEStats stats =
            color::delta_e_map(s.photo.pixels.data(), rgb, nullptr, size, size, s.map.data());
        s.score = summarise(s.map, s.mask, stats.sum);
    }
    return out;
}

// The heatmap's one colour scale for every image: CIEDE2000 0 (black) through dark red, orange
// and yellow to white at heatmap_max and above, so that heatmaps of different images compare.
inline constexpr float heatmap_max = 40.0f;

inline void heat_colour(float delta_e, uint8_t* rgb) {
    static const float stops[5][3] = {
        {0, 0, 0}, {120, 0, 20}, {230, 80, 0}, {255, 210, 40}, {255, 255, 255}};
    const float t = std::clamp(delta_e / heatmap_max, 0.0f, 1.0f) * 4.0f;
    const int k = std::min(static_cast<int>(t), 3);
    const float f = t - static_cast<float>(k);
    for (int c = 0; c < 3; ++c) {
        rgb[c] =
            static_cast<uint8_t>(std::lround(stops[k][c] + f * (stops[k + 1][c] - stops[k][c])));
    }
}

// The map brought back to width x height (bilinear-like stb filtering) and coloured.
inline io::ImageRgb8 heatmap_image(const std::vector<float>& map, int size, int width, int height) {
    std::vector<float> resized(static_cast<size_t>(width) * height);
    if (width == size && height == size) {
        resized = map;
    } else {
        RECOLOR_CHECK(
            stbir_resize_float(map.data(), size, size, 0, resized.data(), width, height, 0, 1),
            "heatmap_image: resize to " << width << "x" << height << " failed");
    }
    io::ImageRgb8 out{width, height, std::vector<uint8_t>(resized.size() * 3)};
    for (size_t i = 0; i < resized.size(); ++i) heat_colour(resized[i], &out.pixels[i * 3]);
    return out;
}

// photo | gray | recolouring | heatmap, side by side at model size.
inline io::ImageRgb8 panel_image(const ScoredImage& s) {
    const int size = s.photo.width;
    io::ImageRgb8 heat = heatmap_image(s.map, size, size, size);
    io::ImageRgb8 out{4 * size, size, std::vector<uint8_t>(static_cast<size_t>(12) * size * size)};
    for (int y = 0; y < size; ++y) {
        for (int x = 0; x < size; ++x) {
            const size_t i = (static_cast<size_t>(y) * size + x) * 3;
            const uint8_t* p = &s.photo.pixels[i];
            const uint8_t l = io::luma(p[0], p[1], p[2]);
            const uint8_t gray[3] = {l, l, l};
            const uint8_t* parts[4] = {p, gray, &s.recolouring.pixels[i], &heat.pixels[i]};
            for (int k = 0; k < 4; ++k) {
                uint8_t* o = &out.pixels[(static_cast<size_t>(y) * 4 * size + k * size + x) * 3];
                o[0] = parts[k][0], o[1] = parts[k][1], o[2] = parts[k][2];
            }
        }
    }
    return out;
}

}  // namespace recolor::detector
