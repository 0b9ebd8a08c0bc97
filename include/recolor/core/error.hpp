// recolor::Error is the one exception type; RECOLOR_CHECK throws it with the failed condition
// and file:line, so a message always says where and why.
#pragma once

#include <charconv>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace recolor {

class Error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

namespace detail {

[[noreturn]] inline void fail(const char* expr, const char* file, int line,
                              const std::string& msg) {
    std::ostringstream out;
    out << msg;
    if (expr && *expr) out << " (check `" << expr << "` failed at " << file << ":" << line << ")";
    throw Error(out.str());
}

}  // namespace detail

// A number for a message, in the fewest digits that read back as the same double: 0.1 is "0.1",
// and 1000000.0000001 is not shown as 1e+06 beside a limit of 1e+06.
inline std::string exact(double value) {
    char text[32];
    const auto result = std::to_chars(text, text + sizeof text, value);
    return std::string(text, result.ptr);
}

// Formats a shape as [2, 3, 4].
inline std::string shape_string(const std::vector<long>& shape) {
    std::ostringstream out;
    out << "[";
    for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
    out << "]";
    return out.str();
}

}  // namespace recolor

// Throws recolor::Error with a streamed message when cond is false.
#define RECOLOR_CHECK(cond, msg)                                                          \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            std::ostringstream recolor_check_msg_;                                        \
            recolor_check_msg_ << msg;                                                    \
            ::recolor::detail::fail(#cond, __FILE__, __LINE__, recolor_check_msg_.str()); \
        }                                                                                 \
    } while (0)
