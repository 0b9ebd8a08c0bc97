// Checkpoints: one safetensors file holding both networks' weights and batch-norm statistics,
// both optimisers' moments, and, as string metadata, the configuration and where training
// stands (epoch, position in the epoch, Adam steps, dropout counters). Python's `safetensors`
// opens it; a resumed run continues exactly where the saved one stopped.
#pragma once

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
};

inline nlohmann::json config_to_json(const Pix2PixConfig& c) {
    return {
        {"image_size", c.image_size}, {"ngf", c.ngf},  {"ndf", c.ndf},     {"n_layers", c.n_layers},
        {"lambda_l1", c.lambda_l1},   {"lr", c.lr},    {"beta1", c.beta1}, {"beta2", c.beta2},
        {"dropout", c.dropout},       {"seed", c.seed}};
}

inline Pix2PixConfig config_from_json(const nlohmann::json& j) {
    Pix2PixConfig c;
    c.image_size = j.at("image_size").get<long>();
    c.ngf = j.at("ngf").get<long>();
    c.ndf = j.at("ndf").get<long>();
    c.n_layers = j.at("n_layers").get<long>();
    c.lambda_l1 = j.at("lambda_l1").get<double>();
    c.lr = j.at("lr").get<double>();
    c.beta1 = j.at("beta1").get<double>();
    c.beta2 = j.at("beta2").get<double>();
    c.dropout = j.at("dropout").get<float>();
    c.seed = j.at("seed").get<uint64_t>();
    return c;
}

namespace detail {

using Named = std::vector<std::pair<std::string, Tensor<float>>>;

inline void append(Named& out, const std::string& prefix, const Named& tensors) {
    for (const auto& [name, t] : tensors) out.push_back({prefix + name, t});
}

// Every tensor of a model, named as in the file; the same list serves saving and loading.
template <typename D>
Named checkpoint_tensors(Pix2Pix<D>& model) {
    Named out;
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
    };
    io::save_safetensors(path, detail::checkpoint_tensors(model), metadata);
}

// A loaded checkpoint: the model, ready to train on or score with, and where training stood.
struct Checkpoint {
    std::unique_ptr<Pix2Pix<CPU>> model;
    TrainState state;
};

inline Checkpoint load_checkpoint(const std::filesystem::path& path) {
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
    Checkpoint out;
    Pix2PixConfig config;
    try {
        config = config_from_json(nlohmann::json::parse(meta("config")));
        out.state.epoch = std::stol(meta("epoch"));
        out.state.position = std::stol(meta("position"));
        out.state.step = std::stol(meta("step"));
    } catch (const nlohmann::json::exception& e) {
        throw Error("load_checkpoint: '" + name + "' has a bad configuration: " + e.what());
    } catch (const std::logic_error& e) {
        throw Error("load_checkpoint: '" + name + "' has a bad training state: " + e.what());
    }
    out.model = std::make_unique<Pix2Pix<CPU>>(config);
    io::load_into(detail::checkpoint_tensors(*out.model), file);
    out.model->generator_optimizer.set_steps(std::stol(meta("generator_adam_steps")));
    out.model->discriminator_optimizer.set_steps(std::stol(meta("discriminator_adam_steps")));
    auto calls = nlohmann::json::parse(meta("dropout_calls"));
    auto layers = out.model->generator.dropouts();
    RECOLOR_CHECK(calls.is_array() && calls.size() == layers.size(),
                  "load_checkpoint: '" << name << "' has " << calls.size()
                                       << " dropout counters, the model has " << layers.size());
    for (size_t i = 0; i < layers.size(); ++i) layers[i]->set_calls(calls[i].get<uint64_t>());
    return out;
}

}  // namespace recolor::detector
