// Checkpoints: one safetensors file holding both networks' weights and batch-norm statistics,
// both optimisers' moments, and, as string metadata, the configuration and where training
// stands (epoch, position in the epoch, Adam steps, dropout counters). Python's `safetensors`
// opens it; a resumed run continues exactly where the saved one stopped.
//
// The file is always written from, and read into, host tensors. A CPU model's tensors are
// written as they are; a CUDA model's go through host copies, so that both devices write the
// same bytes for the same weights and either loads what the other saved.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "recolor/detector/pix2pix.hpp"
#include "recolor/io/safetensors.hpp"

namespace recolor::detector {

inline constexpr const char* checkpoint_format = "recolor-pix2pix-1";

// Where training stands: `epoch` epochs are complete and `position` steps of the next are done.
struct TrainState {
    long epoch = 0;
    long position = 0;
    long step = 0;  // steps since the start of training
    // The augmentation the run was started with (TrainOptions); a resume must use the same.
    // A checkpoint written before it was recorded leaves it unknown: the resume's is taken.
    bool flip = false, crop = false;
    bool augmentation_known = true;
};

inline nlohmann::json config_to_json(const Pix2PixConfig& c) {
    return {
        {"image_size", c.image_size}, {"ngf", c.ngf},  {"ndf", c.ndf},     {"n_layers", c.n_layers},
        {"lambda_l1", c.lambda_l1},   {"lr", c.lr},    {"beta1", c.beta1}, {"beta2", c.beta2},
        {"dropout", c.dropout},       {"seed", c.seed}};
}

// Reads a configuration written by config_to_json; a missing key, or a value of the wrong kind
// (a string, a fraction where a count belongs, a number past the type's range), is an error
// naming the key and the value.
inline Pix2PixConfig config_from_json(const nlohmann::json& j) {
    auto value = [&](const char* key) -> const nlohmann::json& {
        RECOLOR_CHECK(j.is_object() && j.contains(key), "no '" << key << "'");
        return j.at(key);
    };
    auto count = [&](const char* key) {
        const nlohmann::json& v = value(key);
        RECOLOR_CHECK(v.is_number_integer() &&
                          (v.is_number_unsigned() ? v.get<uint64_t>() <= (1ULL << 31)
                                                  : std::llabs(v.get<long long>()) <= (1LL << 31)),
                      "'" << key << "' must be a whole number up to 2^31, found " << v.dump());
        return v.get<long>();
    };
    auto number = [&](const char* key) {
        const nlohmann::json& v = value(key);
        RECOLOR_CHECK(v.is_number(), "'" << key << "' must be a number, found " << v.dump());
        return v.get<double>();
    };
    Pix2PixConfig c;
    c.image_size = count("image_size");
    c.ngf = count("ngf");
    c.ndf = count("ndf");
    c.n_layers = count("n_layers");
    c.lambda_l1 = number("lambda_l1");
    c.lr = number("lr");
    c.beta1 = number("beta1");
    c.beta2 = number("beta2");
    c.dropout = static_cast<float>(number("dropout"));
    const nlohmann::json& seed = value("seed");
    RECOLOR_CHECK(seed.is_number_unsigned(),
                  "'seed' must be a whole number >= 0, found " << seed.dump());
    c.seed = seed.get<uint64_t>();
    return c;
}

namespace detail {

template <typename D>
using NamedTensors = std::vector<std::pair<std::string, Tensor<float, D>>>;
using Named = NamedTensors<CPU>;

template <typename D>
void append(NamedTensors<D>& out, const std::string& prefix, const NamedTensors<D>& tensors) {
    for (const auto& [name, t] : tensors) out.push_back({prefix + name, t});
}

// Every tensor of a model, named as in the file; the same list serves saving and loading.
template <typename D>
NamedTensors<D> checkpoint_tensors(Pix2Pix<D>& model) {
    NamedTensors<D> out;
    append(out, "generator.", model.generator.named_parameters());
    append(out, "generator.", model.generator.named_buffers());
    append(out, "discriminator.", model.discriminator.named_parameters());
    append(out, "discriminator.", model.discriminator.named_buffers());
    auto moments = [&](const std::string& prefix, auto& module, auto& optimizer) {
        auto names = module.named_parameters();
        for (size_t i = 0; i < names.size(); ++i) {
            out.push_back({prefix + "exp_avg." + names[i].first, optimizer.exp_avg()[i]});
            out.push_back({prefix + "exp_avg_sq." + names[i].first, optimizer.exp_avg_sq()[i]});
        }
    };
    moments("generator_optimizer.", model.generator, model.generator_optimizer);
    moments("discriminator_optimizer.", model.discriminator, model.discriminator_optimizer);
    return out;
}

// The tensors as host tensors: the same handles on the CPU, copies from any other device.
template <typename D>
Named host_tensors(const NamedTensors<D>& tensors) {
    if constexpr (is_cpu<D>) {
        return tensors;
    } else {
        Named out;
        for (const auto& [name, t] : tensors) out.push_back({name, t.template to<CPU>()});
        return out;
    }
}

// Copies the file's tensors into `targets`. Off the CPU they are read into host tensors first
// (load_into checks every name and shape before it copies anything), then copied over.
template <typename D>
void load_tensors(const NamedTensors<D>& targets, const io::SafetensorsFile& file) {
    if constexpr (is_cpu<D>) {
        io::load_into(targets, file);
    } else {
        Named host;
        for (const auto& [name, t] : targets)
            host.push_back({name, Tensor<float>::empty(t.shape())});
        io::load_into(host, file);
        for (size_t i = 0; i < targets.size(); ++i) {
            Tensor<float, D> target = targets[i].second;
            target.copy_from(host[i].second.template to<D>());
        }
    }
}

// A damaged or hostile configuration could ask for a model of terabytes, so it is checked before
// a model is built: the first layers' shapes against the file's tensors (a message naming the
// tensor), the sizes against limits, and a lower bound of the weights (the U-Net's 8 ngf
// convolutions, every discriminator convolution) against the bytes the file holds: each weight
// is saved with its two Adam moments, 12 bytes in all.
inline void check_config(const Pix2PixConfig& c, const io::SafetensorsFile& file,
                         const std::string& name) {
    const std::string where = "load_checkpoint: '" + name + "': ";
    auto expect_shape = [&](const std::string& tensor, const Shape& shape) {
        const auto found = file.tensors.find(tensor);
        RECOLOR_CHECK(found == file.tensors.end() || found->second.shape() == shape,
                      "load_checkpoint: tensor '"
                          << tensor << "' expected shape " << shape_string(shape) << ", found "
                          << shape_string(found->second.shape()) << " in '" << name << "'");
    };
    RECOLOR_CHECK(c.ngf >= 1 && c.ndf >= 1 && c.n_layers >= 1 && c.n_layers <= 8 &&
                      c.image_size >= 32 && c.image_size <= 4096,
                  where << "configuration out of range: ngf " << c.ngf << ", ndf " << c.ndf
                        << ", n_layers " << c.n_layers << " (1 to 8), image_size " << c.image_size
                        << " (32 to 4096)");
    // Training hyperparameters: what the optimisers and losses accept (a resume trains on).
    RECOLOR_CHECK(c.lambda_l1 >= 0 && c.lambda_l1 <= max_lambda_l1 && c.lr > 0 && c.lr <= max_lr &&
                      c.beta1 >= 0 && c.beta1 < 1 && c.beta2 >= 0 && c.beta2 < 1 &&
                      c.dropout >= 0 && c.dropout < 1,
                  where << "training settings out of range: lambda_l1 " << exact(c.lambda_l1)
                        << " (0 to " << exact(max_lambda_l1) << "), lr " << exact(c.lr)
                        << " (above 0, at most " << exact(max_lr) << "), beta1 " << exact(c.beta1)
                        << " and beta2 " << exact(c.beta2) << " (0 to 1), dropout "
                        << exact(c.dropout) << " (0 to 1)");
    expect_shape("generator.unet.down.weight", {c.ngf, 1, 4, 4});
    expect_shape("discriminator.net.0.weight", {c.ndf, 4, 4, 4});
    double weights = 1024.0 * c.ngf * c.ngf * (2.0 + 3.0 * (unet_levels(c.image_size) - 5));
    for (long n = 1, width = 1; n <= c.n_layers; ++n) {
        const long previous = width;
        width = std::min(1L << n, 8L);
        weights += 16.0 * c.ndf * previous * c.ndf * width;
    }
    double held = 0;
    for (const auto& [tensor, t] : file.tensors) held += 4.0 * static_cast<double>(t.numel());
    RECOLOR_CHECK(12.0 * weights <= held,
                  where << "its configuration (ngf " << c.ngf << ", ndf " << c.ndf << ", n_layers "
                        << c.n_layers << ", image_size " << c.image_size << ") needs at least "
                        << 12.0 * weights << " bytes of tensors, the file holds " << held);
}

}  // namespace detail

// Writes the model and the training state to path, atomically (a crash mid-write leaves the
// previous file intact).
template <typename D>
void save_checkpoint(const std::filesystem::path& path, Pix2Pix<D>& model,
                     const TrainState& state) {
    nlohmann::json dropout_calls = nlohmann::json::array();
    for (auto& layer : model.generator.dropouts()) dropout_calls.push_back(layer->calls());
    std::map<std::string, std::string> metadata{
        {"format", checkpoint_format},
        {"config", config_to_json(model.config).dump()},
        {"epoch", std::to_string(state.epoch)},
        {"position", std::to_string(state.position)},
        {"step", std::to_string(state.step)},
        {"generator_adam_steps", std::to_string(model.generator_optimizer.steps())},
        {"discriminator_adam_steps", std::to_string(model.discriminator_optimizer.steps())},
        {"dropout_calls", dropout_calls.dump()},
        {"augmentation", nlohmann::json{{"flip", state.flip}, {"crop", state.crop}}.dump()},
    };
    const detail::Named tensors = detail::host_tensors(detail::checkpoint_tensors(model));
    // Only finite weights are written: a step whose loss was finite can still leave infinite
    // ones behind (a learning rate that overflows), and a run resumed from them fails at once.
    for (const auto& [tensor_name, t] : tensors) {
        const float* values = t.data();
        for (long i = 0; i < t.numel(); ++i) {
            RECOLOR_CHECK(std::isfinite(values[i]),
                          "save_checkpoint: tensor '" << tensor_name << "' became " << values[i]
                                                      << " at step " << state.step << " (epoch "
                                                      << state.epoch + (state.position > 0)
                                                      << "); '" << path.string()
                                                      << "' is not written, the last one is kept");
        }
    }
    io::save_safetensors(path, tensors, metadata);
}

// A loaded checkpoint: the model on device D, ready to train on or score with, and where
// training stood.
template <typename D = CPU>
struct Checkpoint {
    std::unique_ptr<Pix2Pix<D>> model;
    TrainState state;
};

// Loads a checkpoint written on any device into a model on device D.
template <typename D = CPU>
Checkpoint<D> load_checkpoint(const std::filesystem::path& path) {
    io::SafetensorsFile file = io::load_safetensors(path);
    const std::string name = path.string();
    auto meta = [&](const std::string& key) -> const std::string& {
        auto it = file.metadata.find(key);
        RECOLOR_CHECK(it != file.metadata.end(), "load_checkpoint: '"
                                                     << name << "' has no metadata '" << key
                                                     << "' (not a recolor checkpoint?)");
        return it->second;
    };
    RECOLOR_CHECK(meta("format") == checkpoint_format,
                  "load_checkpoint: '" << name << "' has format '" << meta("format")
                                       << "', expected '" << checkpoint_format << "'");
    Checkpoint<D> out;
    Pix2PixConfig config;
    long generator_steps = 0, discriminator_steps = 0;
    nlohmann::json calls;
    try {
        try {
            config = config_from_json(nlohmann::json::parse(meta("config")));
        } catch (const Error& e) {
            throw Error("load_checkpoint: '" + name + "' has a bad configuration: " + e.what());
        }
        out.state.epoch = std::stol(meta("epoch"));
        out.state.position = std::stol(meta("position"));
        out.state.step = std::stol(meta("step"));
        generator_steps = std::stol(meta("generator_adam_steps"));
        discriminator_steps = std::stol(meta("discriminator_adam_steps"));
        calls = nlohmann::json::parse(meta("dropout_calls"));
        // Absent from checkpoints written before it was saved: unknown.
        out.state.augmentation_known = file.metadata.count("augmentation") > 0;
        if (out.state.augmentation_known) {
            const auto augmentation = nlohmann::json::parse(meta("augmentation"), nullptr, false);
            RECOLOR_CHECK(augmentation.is_object() && augmentation.contains("flip") &&
                              augmentation.contains("crop") && augmentation["flip"].is_boolean() &&
                              augmentation["crop"].is_boolean(),
                          "load_checkpoint: '" << name << "': 'augmentation' must be "
                                               << R"({"flip": true or false, "crop": ...}, found )"
                                               << meta("augmentation"));
            out.state.flip = augmentation["flip"].template get<bool>();
            out.state.crop = augmentation["crop"].template get<bool>();
        }
    } catch (const nlohmann::json::exception& e) {
        throw Error("load_checkpoint: '" + name + "' has a bad configuration: " + e.what());
    } catch (const std::logic_error& e) {
        throw Error("load_checkpoint: '" + name + "' has a bad training state: " + e.what());
    }
    RECOLOR_CHECK(out.state.epoch >= 0 && out.state.position >= 0 && out.state.step >= 0 &&
                      generator_steps >= 0 && discriminator_steps >= 0,
                  "load_checkpoint: '" << name << "' has a negative training state (epoch "
                                       << out.state.epoch << ", position " << out.state.position
                                       << ", step " << out.state.step << ")");
    detail::check_config(config, file, name);
    // Saving refuses non-finite weights; a file that holds them was made or changed elsewhere.
    for (const auto& [tensor_name, t] : file.tensors) {
        const float* values = t.data();
        for (long i = 0; i < t.numel(); ++i) {
            RECOLOR_CHECK(std::isfinite(values[i]), "load_checkpoint: '"
                                                        << name << "': tensor '" << tensor_name
                                                        << "' holds " << values[i] << " at " << i);
        }
    }
    out.model = std::make_unique<Pix2Pix<D>>(config);
    detail::load_tensors(detail::checkpoint_tensors(*out.model), file);
    out.model->generator_optimizer.set_steps(generator_steps);
    out.model->discriminator_optimizer.set_steps(discriminator_steps);
    auto layers = out.model->generator.dropouts();
    RECOLOR_CHECK(calls.is_array() && calls.size() == layers.size(),
                  "load_checkpoint: '" << name << "' has " << calls.size()
                                       << " dropout counters, the model has " << layers.size());
    for (size_t i = 0; i < layers.size(); ++i) {
        RECOLOR_CHECK(calls[i].is_number_unsigned(), "load_checkpoint: '"
                                                         << name << "': dropout counter " << i
                                                         << " is " << calls[i].dump());
        layers[i]->set_calls(calls[i].get<uint64_t>());
    }
    return out;
}

}  // namespace recolor::detector
