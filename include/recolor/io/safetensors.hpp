// Checkpoints in the safetensors format (huggingface/safetensors), so that PyTorch and other
// readers can open what the detector trains. A file is: an 8-byte little-endian header length N,
// N bytes of JSON padded with spaces to a multiple of 8, then the tensors' raw little-endian data:
//   {"__metadata__": {"key": "value"},
//    "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
// with offsets counted from the first data byte.
//
// Saving is atomic: the bytes go to path + ".tmp", are flushed to disk (fsync), then renamed over
// path, so a crash leaves either the old file or the new one. Loading validates the whole header
// against the file size before it reads any data (the format's rules: no overlapping tensors, no
// unindexed bytes), and never reads past the end of the file.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "recolor/backend/cpu.hpp"
#include "recolor/core/error.hpp"
#include "recolor/core/tensor.hpp"

namespace recolor::io {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; recolor writes host memory as it is");

struct SafetensorsFile {
    std::filesystem::path path;  // where it was read from, for messages
    std::map<std::string, std::string> metadata;
    std::map<std::string, Tensor<float>> tensors;
};

namespace detail {

// The reference implementation's limit on the JSON header.
inline constexpr uint64_t max_safetensors_header = 100'000'000;
// How deep the header's JSON may nest: a checkpoint's is 3 levels deep.
inline constexpr int max_header_depth = 8;

// A POSIX file descriptor, closed on scope exit.
class FileDescriptor {
  public:
    explicit FileDescriptor(int fd) : fd_(fd) {}
    ~FileDescriptor() {
        if (fd_ >= 0) ::close(fd_);
    }
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;
    int get() const { return fd_; }
    // Closes now, reporting the error a deferred write may only show here.
    int close() {
        const int rc = ::close(fd_);
        fd_ = -1;
        return rc;
    }

  private:
    int fd_;
};

inline void write_all(int fd, const void* data, size_t size, const std::string& name) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
        const ssize_t n = ::write(fd, p, size);
        if (n < 0 && errno == EINTR) continue;
        RECOLOR_CHECK(n > 0,
                      "save_safetensors: cannot write '" << name << "': " << std::strerror(errno));
        p += n;
        size -= static_cast<size_t>(n);
    }
}

// Reads exactly size bytes at offset, or fails naming the file.
inline void read_at(int fd, void* data, size_t size, uint64_t offset, const std::string& name) {
    char* p = static_cast<char*>(data);
    while (size > 0) {
        const ssize_t n = ::pread(fd, p, size, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        RECOLOR_CHECK(n > 0, "load_safetensors: cannot read '"
                                 << name << "' at byte " << offset << ": "
                                 << (n == 0 ? "unexpected end of file" : std::strerror(errno)));
        p += n;
        offset += static_cast<uint64_t>(n);
        size -= static_cast<size_t>(n);
    }
}

// Makes a rename durable: fsync on the directory that holds the entry.
inline void sync_directory(const std::filesystem::path& file) {
    std::filesystem::path dir = file.parent_path();
    if (dir.empty()) dir = ".";
    FileDescriptor fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() >= 0) ::fsync(fd.get());  // best effort: some file systems refuse
}

}  // namespace detail

// Writes tensors (F32, in the order given) and string metadata to path, atomically.
inline void save_safetensors(const std::filesystem::path& path,
                             const std::vector<std::pair<std::string, Tensor<float>>>& tensors,
                             const std::map<std::string, std::string>& metadata = {}) {
    const std::string name = path.string();

    // Header: names checked, offsets laid end to end.
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::set<std::string> seen;
    uint64_t offset = 0;
    for (const auto& [tensor_name, tensor] : tensors) {
        RECOLOR_CHECK(
            !tensor_name.empty() && tensor_name != "__metadata__",
            "save_safetensors: '" << name << "': invalid tensor name '" << tensor_name << "'");
        RECOLOR_CHECK(seen.insert(tensor_name).second, "save_safetensors: '"
                                                           << name << "': tensor '" << tensor_name
                                                           << "' appears twice");
        RECOLOR_CHECK(tensor.defined(), "save_safetensors: '" << name << "': tensor '"
                                                              << tensor_name << "' is undefined");
        const uint64_t bytes = static_cast<uint64_t>(tensor.numel()) * sizeof(float);
        header[tensor_name] = {{"dtype", "F32"},
                               {"shape", tensor.shape()},
                               {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string text;
    try {
        text = header.dump();
    } catch (const nlohmann::json::exception& e) {
        throw Error("save_safetensors: '" + name + "': cannot encode the header: " + e.what());
    }
    text.append((8 - text.size() % 8) % 8, ' ');
    uint8_t length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(uint64_t{text.size()} >> (8 * i));

    // Write: everything to the temporary file, flushed to disk, then renamed over path.
    const std::string temporary = name + ".tmp";
    try {
        detail::FileDescriptor fd(
            ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        RECOLOR_CHECK(fd.get() >= 0, "save_safetensors: cannot create '"
                                         << temporary << "': " << std::strerror(errno));
        detail::write_all(fd.get(), length, sizeof(length), temporary);
        detail::write_all(fd.get(), text.data(), text.size(), temporary);
        for (const auto& [tensor_name, tensor] : tensors) {
            detail::write_all(fd.get(), tensor.data(), tensor.numel() * sizeof(float), temporary);
        }
        RECOLOR_CHECK(::fsync(fd.get()) == 0, "save_safetensors: cannot flush '"
                                                  << temporary << "': " << std::strerror(errno));
        RECOLOR_CHECK(fd.close() == 0, "save_safetensors: cannot close '"
                                           << temporary << "': " << std::strerror(errno));
        RECOLOR_CHECK(::rename(temporary.c_str(), name.c_str()) == 0,
                      "save_safetensors: cannot rename '" << temporary << "' to '" << name
                                                          << "': " << std::strerror(errno));
    } catch (...) {
        ::unlink(temporary.c_str());
        throw;
    }
    detail::sync_directory(path);
}

namespace detail {

// The dtypes of the format; recolor reads F32 only today.
inline bool is_safetensors_dtype(const std::string& dtype) {
    static const std::set<std::string> known = {"BOOL", "U8",  "I8",  "F8_E5M2", "F8_E4M3",
                                                "I16",  "U16", "F16", "BF16",    "I32",
                                                "U32",  "F32", "F64", "I64",     "U64"};
    return known.count(dtype) > 0;
}

struct TensorEntry {
    std::string name;
    Shape shape;
    uint64_t begin = 0, end = 0;
};

// One header entry, checked against the size of the data section.
inline TensorEntry parse_tensor_entry(const std::string& file, const std::string& tensor,
                                      const nlohmann::json& entry, uint64_t data_size) {
    const std::string where = "load_safetensors: '" + file + "': tensor '" + tensor + "'";
    RECOLOR_CHECK(
        entry.is_object() && entry.contains("dtype") && entry.contains("shape") &&
            entry.contains("data_offsets"),
        where << ": needs an object with dtype, shape and data_offsets, found " << entry.dump());
    const auto& dtype = entry["dtype"];
    RECOLOR_CHECK(dtype.is_string(), where << ": dtype is not a string: " << dtype.dump());
    const std::string dtype_name = dtype.get<std::string>();
    RECOLOR_CHECK(is_safetensors_dtype(dtype_name),
                  where << ": unknown dtype '" << dtype_name << "'");
    RECOLOR_CHECK(dtype_name == "F32", where << ": dtype " << dtype_name
                                             << " is not supported (recolor reads F32 only)");

    // Shape: unsigned integers whose product, times 4 bytes, cannot overflow.
    TensorEntry out{tensor, {}, 0, 0};
    const auto& shape = entry["shape"];
    RECOLOR_CHECK(shape.is_array(), where << ": shape is not an array: " << shape.dump());
    uint64_t bytes = sizeof(float);
    for (const auto& dim : shape) {
        RECOLOR_CHECK(dim.is_number_unsigned() && dim.get<uint64_t>() <= (uint64_t{1} << 62),
                      where << ": shape " << shape.dump() << " holds an invalid dimension");
        const uint64_t d = dim.get<uint64_t>();
        RECOLOR_CHECK(!__builtin_mul_overflow(bytes, d, &bytes),
                      where << ": shape " << shape.dump() << " is too large");
        out.shape.push_back(static_cast<long>(d));
    }

    // Offsets: inside the data section, spanning exactly the shape's bytes.
    const auto& offsets = entry["data_offsets"];
    RECOLOR_CHECK(
        offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
            offsets[1].is_number_unsigned(),
        where << ": data_offsets must be two unsigned integers, found " << offsets.dump());
    out.begin = offsets[0].get<uint64_t>();
    out.end = offsets[1].get<uint64_t>();
    RECOLOR_CHECK(out.begin <= out.end && out.end <= data_size,
                  where << ": data_offsets [" << out.begin << ", " << out.end
                        << "] fall outside the " << data_size << " data bytes");
    RECOLOR_CHECK(out.end - out.begin == bytes,
                  where << ": shape " << shape_string(out.shape) << " needs " << bytes
                        << " bytes, data_offsets span " << out.end - out.begin);
    return out;
}

}  // namespace detail

// Reads and validates a whole safetensors file (F32 tensors only).
inline SafetensorsFile load_safetensors(const std::filesystem::path& path) {
    const std::string name = path.string();
    detail::FileDescriptor fd(::open(name.c_str(), O_RDONLY | O_CLOEXEC));
    RECOLOR_CHECK(fd.get() >= 0,
                  "load_safetensors: cannot open '" << name << "': " << std::strerror(errno));
    struct stat info {};
    RECOLOR_CHECK(::fstat(fd.get(), &info) == 0 && S_ISREG(info.st_mode),
                  "load_safetensors: '" << name << "' is not a regular file");
    const uint64_t file_size = static_cast<uint64_t>(info.st_size);

    // Length: 8 bytes, little-endian, and the header must fit in the file.
    RECOLOR_CHECK(file_size >= 8, "load_safetensors: '" << name << "' is " << file_size
                                                        << " bytes, shorter than the 8-byte "
                                                           "header length");
    uint8_t length_bytes[8];
    detail::read_at(fd.get(), length_bytes, 8, 0, name);
    uint64_t header_size = 0;
    for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | length_bytes[i];
    RECOLOR_CHECK(header_size <= detail::max_safetensors_header,
                  "load_safetensors: '" << name
                                        << "' is not a safetensors file: its first 8 bytes give "
                                           "a header length of "
                                        << header_size << ", over the format's limit of "
                                        << detail::max_safetensors_header);
    RECOLOR_CHECK(header_size <= file_size - 8, "load_safetensors: '"
                                                    << name << "': header length " << header_size
                                                    << " runs past the end of the file ("
                                                    << file_size << " bytes)");
    const uint64_t data_start = 8 + header_size;
    const uint64_t data_size = file_size - data_start;

    // Header: a JSON object, each top-level key once.
    std::string text(header_size, '\0');
    detail::read_at(fd.get(), text.data(), text.size(), 8, name);
    RECOLOR_CHECK(!text.empty() && text[0] == '{',
                  "load_safetensors: '" << name << "': the header does not start with '{'");
    std::set<std::string> keys;
    std::string duplicate;
    nlohmann::json header;
    try {
        header = nlohmann::json::parse(
            text, [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
                // A header is shallow (object, entry, shape); deeper nesting is refused before
                // anything recurses through it.
                RECOLOR_CHECK(depth <= detail::max_header_depth,
                              "load_safetensors: '" << name << "': the header nests deeper than "
                                                    << detail::max_header_depth << " levels");
                if (event == nlohmann::json::parse_event_t::key && depth == 1 &&
                    !keys.insert(parsed.get<std::string>()).second) {
                    duplicate = parsed.get<std::string>();
                }
                return true;
            });
    } catch (const nlohmann::json::exception& e) {
        throw Error("load_safetensors: '" + name + "': invalid JSON header: " + e.what());
    }
    RECOLOR_CHECK(header.is_object(),
                  "load_safetensors: '" << name << "': header is not an object");
    RECOLOR_CHECK(duplicate.empty(),
                  "load_safetensors: '" << name << "': key '" << duplicate << "' appears twice");

    // Entries: metadata (strings only) and tensors.
    SafetensorsFile file;
    file.path = path;
    std::vector<detail::TensorEntry> entries;
    for (const auto& [key, value] : header.items()) {
        if (key != "__metadata__") {
            entries.push_back(detail::parse_tensor_entry(name, key, value, data_size));
            continue;
        }
        RECOLOR_CHECK(value.is_object(),
                      "load_safetensors: '" << name << "': __metadata__ is not an object");
        for (const auto& [meta_key, meta_value] : value.items()) {
            RECOLOR_CHECK(meta_value.is_string(), "load_safetensors: '" << name << "': metadata '"
                                                                        << meta_key
                                                                        << "' is not a string");
            file.metadata[meta_key] = meta_value.get<std::string>();
        }
    }

    // Layout: tensors in offset order, neither overlapping nor leaving bytes unindexed.
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    uint64_t covered = 0;
    for (size_t i = 0; i < entries.size(); ++i) {
        const auto& e = entries[i];
        RECOLOR_CHECK(e.begin >= covered,
                      "load_safetensors: '" << name << "': tensor '" << e.name
                                            << "' overlaps tensor '" << entries[i - 1].name
                                            << "' (bytes " << e.begin << " to " << covered << ")");
        RECOLOR_CHECK(e.begin == covered, "load_safetensors: '" << name << "': data bytes "
                                                                << covered << " to " << e.begin
                                                                << " belong to no tensor (before '"
                                                                << e.name << "')");
        covered = e.end;
    }
    RECOLOR_CHECK(covered == data_size, "load_safetensors: '" << name << "': data bytes " << covered
                                                              << " to " << data_size
                                                              << " belong to no tensor");

    // Data: each tensor read straight into its storage.
    for (const auto& e : entries) {
        auto tensor = Tensor<float>::empty(e.shape);
        detail::read_at(fd.get(), tensor.data(), e.end - e.begin, data_start + e.begin, name);
        file.tensors.emplace(e.name, std::move(tensor));
    }
    return file;
}

// Copies prefix + name from the file into each tensor (a module's named_parameters() and
// named_buffers()). Every name and shape is checked before anything is copied, so a failure
// leaves the tensors as they were.
inline void load_into(const std::vector<std::pair<std::string, Tensor<float>>>& named,
                      const SafetensorsFile& file, const std::string& prefix = "") {
    std::vector<std::pair<Tensor<float>, const Tensor<float>*>> copies;
    for (const auto& [tensor_name, tensor] : named) {
        const std::string key = prefix + tensor_name;
        const auto found = file.tensors.find(key);
        RECOLOR_CHECK(found != file.tensors.end(),
                      "load_into: tensor '" << key << "' is missing from '" << file.path.string()
                                            << "' (" << file.tensors.size() << " tensors)");
        RECOLOR_CHECK(found->second.shape() == tensor.shape(),
                      "load_into: tensor '" << key << "' expected shape "
                                            << shape_string(tensor.shape()) << ", found "
                                            << shape_string(found->second.shape()) << " in '"
                                            << file.path.string() << "'");
        copies.push_back({tensor, &found->second});
    }
    for (auto& [target, source] : copies) target.copy_from(*source);
}

}  // namespace recolor::io
