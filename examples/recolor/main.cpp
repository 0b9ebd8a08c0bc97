// recolor: find plant disease by recolouring. `train` fits the pix2pix recolouring model on
// healthy leaves, `score` writes each photo's anomaly scores, heatmap and panel, and `eval`
// does both on a labelled split and measures how well the scores separate the two classes.
// This file reads the command line; commands.hpp holds the commands. `--device cuda` runs the
// model on the GPU where the build has CUDA (cuda_commands.cu).
#include <CLI/CLI.hpp>

#include <charconv>
#include <csignal>
#include <cstdint>
#include <iostream>
#include <string>

#include "commands.hpp"

using namespace recolor;
using recolor::cli::Command;

namespace {

extern "C" void on_signal(int) {
    cli::stop_requested = true;
}

// A whole number from least to most, in digits only: CLI11 alone reads -1 as 2^64 - 1 into an
// unsigned option, 2^64 as 2^64 - 1, and reports "abc" as out of range.
CLI::Validator whole_number(uint64_t least, uint64_t most) {
    return CLI::Validator(
        [least, most](std::string& text) {
            uint64_t value = 0;
            const char* end = text.data() + text.size();
            const auto [stop, error] = std::from_chars(text.data(), end, value);
            const bool fits = !text.empty() && text[0] != '-' && error == std::errc() &&
                              stop == end && value >= least && value <= most;
            return fits ? std::string()
                        : "must be a whole number from " + std::to_string(least) + " to " +
                              std::to_string(most) + ", found " + text;
        },
        "", "whole number");
}

void add_training_flags(CLI::App* app, cli::TrainingFlags& f) {
    app->add_option("--preset", f.preset,
                    "quick (a 2-core CPU, minutes) or paper (the published setup)")
        ->check(CLI::IsMember({"quick", "paper"}));
    app->add_option("--epochs", f.epochs, "epochs (default: the preset's)")
        ->check(whole_number(1, 1000000));
    app->add_option("--seed", f.seed, "seed of the split, the initialisation and the data order")
        ->check(whole_number(0, UINT64_MAX));
    app->add_option("--lambda", f.lambda_l1, "weight of the L1 term (default: the preset's)");
    app->add_flag("--flip", f.flip, "random left-right flips");
    app->add_flag("--crop", f.crop, "random crops of images resized 12 % larger (pix2pix jitter)");
}

void add_device_flag(CLI::App* app, std::string& device) {
    app->add_option("--device", device, "where the model runs: cpu (default) or cuda")
        ->check(CLI::IsMember({"cpu", "cuda"}));
}

// Runs the command on the device it names.
int run(const Command& c) {
    if (c.device == "cpu") return cli::run_command<CPU>(c);
#if defined(RECOLOR_WITH_CUDA)
    return cli::run_command_cuda(c);
#else
    throw Error(
        "--device cuda: this recolor was built without CUDA (configure it where nvcc, cuDNN "
        "and cuBLAS are installed, with -DRECOLOR_CUDA=ON, and build it again)");
#endif
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "recolor: finds plant disease as the colours that a model trained on healthy leaves "
        "cannot restore"};
    app.require_subcommand(1);

    Command c;

    auto* train_cmd = app.add_subcommand("train", "train the recolouring model on healthy leaves");
    train_cmd->add_option("--healthy", c.healthy, "folder of healthy leaf images")
        ->required()
        ->check(CLI::ExistingDirectory);
    train_cmd->add_option("--out", c.out, "model file to write (.safetensors)")->required();
    train_cmd->add_flag("--resume", c.flags.resume, "continue the run saved in --out");
    add_training_flags(train_cmd, c.flags);
    add_device_flag(train_cmd, c.device);

    auto* score_cmd = app.add_subcommand("score", "score photos: scores.csv, heatmaps/, panels/");
    score_cmd->add_option("--model", c.model_path, "trained model (.safetensors)")
        ->required()
        ->check(CLI::ExistingFile);
    score_cmd->add_option("--out", c.out, "output folder")->required();
    score_cmd->add_option("FILE_OR_FOLDER", c.inputs, "image files or folders")->required();
    score_cmd->add_flag(
        "--train-mode", c.training_mode,
        "score with batch statistics and dropout, as the pix2pix reference does (random)");
    add_device_flag(score_cmd, c.device);

    auto* eval_cmd = app.add_subcommand(
        "eval", "train on half the healthy images, score the rest and diseased ones");
    eval_cmd->add_option("--healthy", c.healthy, "folder of healthy leaf images")
        ->required()
        ->check(CLI::ExistingDirectory);
    eval_cmd->add_option("--diseased", c.diseased, "folder of diseased leaf images")
        ->required()
        ->check(CLI::ExistingDirectory);
    eval_cmd->add_option("--out", c.out, "output folder")->required();
    eval_cmd->add_option("--model", c.model_path, "use this model instead of training one")
        ->check(CLI::ExistingFile);
    eval_cmd
        ->add_option("--diseased-count", c.diseased_count, "diseased test images (the paper: 100)")
        ->check(CLI::PositiveNumber);
    eval_cmd->add_option("--threshold-percentile", c.threshold_percentile,
                         "threshold = this percentile of the healthy training images' scores");
    eval_cmd->add_flag("--train-mode", c.training_mode,
                       "score in training mode (see score --help)");
    eval_cmd->add_flag("--resume", c.flags.resume,
                       "continue the training saved in --out (after Ctrl-C), then evaluate");
    add_training_flags(eval_cmd, c.flags);
    add_device_flag(eval_cmd, c.device);

    // A first word that is no command (CLI11 would only say that one is required).
    if (argc >= 2) {
        const std::string first = argv[1];
        const bool known = first == "train" || first == "score" || first == "eval" ||
                           first == "-h" || first == "--help" || first == "--help-all";
        if (!known) {
            std::cerr << cli::one_line("recolor: error: unknown command '" + first +
                                       "'; the commands are train, score and eval")
                      << "\nRun 'recolor --help' for the options.\n";
            return 2;
        }
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {  // --help
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        // One line, like every other refusal, with a value's control characters escaped.
        std::cerr << cli::one_line(std::string("recolor: error: ") + e.what()) << "\n"
                  << "Run 'recolor --help' or 'recolor COMMAND --help' for the options.\n";
        return 2;
    }
    // eval --model scores with a model already trained: options that train one would be ignored.
    if (*eval_cmd && eval_cmd->count("--model") > 0) {
        for (const char* option :
             {"--preset", "--epochs", "--lambda", "--flip", "--crop", "--resume"}) {
            if (eval_cmd->count(option) == 0) continue;
            std::cerr << "recolor: error: eval --model uses a trained model; " << option
                      << " is for training one, leave it out\n";
            return 1;
        }
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    c.kind = *train_cmd   ? Command::Kind::train
             : *score_cmd ? Command::Kind::score
                          : Command::Kind::eval;
    try {
        return run(c);
    } catch (const std::exception& e) {
        std::cerr << cli::one_line("recolor: error: " + cli::user_message(e.what())) << "\n";
        return 1;
    }
}
