// Evaluation metrics for anomaly scores (higher = more likely diseased): ROC AUC, precision,
// recall and F1 over the K top-scored images (the paper's protocol, K = number of diseased
// images), the ROC curve, and a threshold taken from healthy scores alone.
#pragma once

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "recolor/core/error.hpp"

namespace recolor::detector {

// ROC AUC: the probability that a diseased image outscores a healthy one, ties counting half
// (the Mann-Whitney U statistic over all pairs).
inline double roc_auc(const std::vector<double>& healthy, const std::vector<double>& diseased) {
    RECOLOR_CHECK(!healthy.empty() && !diseased.empty(), "roc_auc: needs both healthy ("
                                                             << healthy.size() << ") and diseased ("
                                                             << diseased.size() << ") scores");
    // Rank all scores together; tied scores share their mean rank.
    std::vector<std::pair<double, int>> all;
    for (double s : healthy) all.push_back({s, 0});
    for (double s : diseased) all.push_back({s, 1});
    std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.first < b.first; });
    double rank_sum = 0;
    for (size_t i = 0; i < all.size();) {
        size_t j = i;
        while (j < all.size() && all[j].first == all[i].first) ++j;
        const double mean_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
        for (size_t k = i; k < j; ++k) rank_sum += all[k].second ? mean_rank : 0.0;
        i = j;
    }
    const double nd = static_cast<double>(diseased.size()),
                 nh = static_cast<double>(healthy.size());
    return (rank_sum - nd * (nd + 1) / 2.0) / (nd * nh);
}

struct AtK {
    long k = 0;
    double precision = 0, recall = 0, f1 = 0;
};

// The K top-scored images called diseased. Ties at the cut are broken against the detector
// (healthy images first), so the figure never flatters it.
inline AtK at_k(const std::vector<double>& healthy, const std::vector<double>& diseased, long k) {
    RECOLOR_CHECK(k > 0 && k <= static_cast<long>(healthy.size() + diseased.size()),
                  "at_k: K = " << k << " outside 1.." << healthy.size() + diseased.size());
    std::vector<std::pair<double, int>> all;
    for (double s : healthy) all.push_back({s, 0});
    for (double s : diseased) all.push_back({s, 1});
    std::sort(all.begin(), all.end(), [](auto& a, auto& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    long hits = 0;
    for (long i = 0; i < k; ++i) hits += all[i].second;
    AtK r;
    r.k = k;
    r.precision = static_cast<double>(hits) / static_cast<double>(k);
    r.recall = static_cast<double>(hits) / static_cast<double>(diseased.size());
    r.f1 = r.precision + r.recall > 0 ? 2 * r.precision * r.recall / (r.precision + r.recall) : 0;
    return r;
}

// The p-th percentile (0..100) with linear interpolation between order statistics.
inline double percentile(std::vector<double> values, double p) {
    RECOLOR_CHECK(!values.empty(), "percentile: no values");
    std::sort(values.begin(), values.end());
    const double pos = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(values.size() - 1);
    const size_t lo = static_cast<size_t>(std::floor(pos));
    const size_t hi = std::min(lo + 1, values.size() - 1);
    return values[lo] + (pos - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

struct Confusion {
    double threshold = 0;
    long true_positive = 0, false_positive = 0, true_negative = 0, false_negative = 0;
};

// Images scoring above the threshold are called diseased.
inline Confusion confusion(const std::vector<double>& healthy, const std::vector<double>& diseased,
                           double threshold) {
    Confusion c;
    c.threshold = threshold;
    for (double s : healthy) (s > threshold ? c.false_positive : c.true_negative)++;
    for (double s : diseased) (s > threshold ? c.true_positive : c.false_negative)++;
    return c;
}

// ROC curve points (false positive rate, true positive rate), from (0, 0) to (1, 1).
inline std::vector<std::pair<double, double>> roc_curve(const std::vector<double>& healthy,
                                                        const std::vector<double>& diseased) {
    std::vector<double> thresholds(healthy);
    thresholds.insert(thresholds.end(), diseased.begin(), diseased.end());
    std::sort(thresholds.begin(), thresholds.end(), std::greater<>());
    thresholds.erase(std::unique(thresholds.begin(), thresholds.end()), thresholds.end());
    std::vector<std::pair<double, double>> points{{0.0, 0.0}};
    for (double t : thresholds) {
        long fp = 0, tp = 0;
        for (double s : healthy) fp += s >= t;
        for (double s : diseased) tp += s >= t;
        points.push_back({static_cast<double>(fp) / static_cast<double>(healthy.size()),
                          static_cast<double>(tp) / static_cast<double>(diseased.size())});
    }
    return points;
}

}  // namespace recolor::detector
