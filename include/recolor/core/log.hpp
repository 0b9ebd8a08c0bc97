// Logging is quiet by default. RECOLOR_LOG=info or RECOLOR_LOG=debug turns it on; every line goes
// to one sink, which a host application can replace with set_log_sink.
#pragma once

#include <cstdlib>
#include <functional>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>

namespace recolor {

enum class LogLevel { off = 0, info = 1, debug = 2 };

namespace detail {

inline LogLevel level_from_environment() {
    const char* value = std::getenv("RECOLOR_LOG");
    if (!value) return LogLevel::off;
    std::string_view v(value);
    if (v == "debug") return LogLevel::debug;
    if (v == "info" || v == "1") return LogLevel::info;
    return LogLevel::off;
}

struct LogState {
    LogLevel level = level_from_environment();
    std::function<void(LogLevel, const std::string&)> sink = [](LogLevel, const std::string& s) {
        std::cerr << "[recolor] " << s << "\n";
    };
    std::mutex mutex;
};

inline LogState& log_state() {
    static LogState state;
    return state;
}

}  // namespace detail

inline LogLevel log_level() {
    return detail::log_state().level;
}
inline void set_log_level(LogLevel level) {
    detail::log_state().level = level;
}

// Replaces where log lines go (stderr by default).
inline void set_log_sink(std::function<void(LogLevel, const std::string&)> sink) {
    detail::log_state().sink = std::move(sink);
}

inline void log(LogLevel level, const std::string& line) {
    auto& state = detail::log_state();
    if (level == LogLevel::off || static_cast<int>(level) > static_cast<int>(state.level)) return;
    std::lock_guard<std::mutex> lock(state.mutex);
    state.sink(level, line);
}

}  // namespace recolor

#define RECOLOR_LOG_AT(level, msg)                                                 \
    do {                                                                           \
        if (static_cast<int>(::recolor::log_level()) >= static_cast<int>(level)) { \
            std::ostringstream recolor_log_line_;                                  \
            recolor_log_line_ << msg;                                              \
            ::recolor::log(level, recolor_log_line_.str());                        \
        }                                                                          \
    } while (0)
#define RECOLOR_LOG_INFO(msg) RECOLOR_LOG_AT(::recolor::LogLevel::info, msg)
#define RECOLOR_LOG_DEBUG(msg) RECOLOR_LOG_AT(::recolor::LogLevel::debug, msg)
