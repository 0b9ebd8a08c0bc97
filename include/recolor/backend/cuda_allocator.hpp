// A caching allocator for device memory, so that a training step after warm-up never calls
// cudaMalloc or cudaFree (both can synchronise the device, and neither may appear in a CUDA
// graph capture). A released block goes back to a free list at once, without waiting for the
// kernels that still read it: every kernel runs on the one stream (cuda_context.hpp), so
// whatever the next owner enqueues runs after them.
//
// Small requests (up to 1 MiB) are rounded to 512 bytes and carved from 16 MiB segments; large
// ones are rounded to 2 MiB and get their own cudaMalloc, and a free large block serves any
// request up to 25 % smaller than itself. Memory returns to the driver only through
// empty_cache() or when cudaMalloc fails (the cache is released and the call retried once).
#pragma once

#include <cstddef>
#include <cstdio>
#include <iomanip>
#include <map>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "recolor/backend/cuda_context.hpp"

namespace recolor::cuda {

struct MemoryStats {
    size_t reserved_bytes = 0;      // held from the driver (cudaMalloc)
    size_t in_use_bytes = 0;        // handed out and not yet released (rounded sizes)
    size_t device_allocations = 0;  // cudaMalloc calls so far
};

class CachingAllocator {
  public:
    static constexpr size_t small_limit = size_t(1) << 20;
    static constexpr size_t small_round = 512;
    static constexpr size_t segment_bytes = size_t(16) << 20;
    static constexpr size_t large_round = size_t(2) << 20;

    void* allocate(size_t bytes) {
        std::lock_guard<std::mutex> lock(mutex_);
        const bool small = bytes <= small_limit;
        const size_t size = small ? round_up(bytes, small_round) : round_up(bytes, large_round);
        void* p = small ? take_small(size) : take_large(size);
        stats_.in_use_bytes += live_.at(p).size;
        return p;
    }

    // Never throws: it runs in tensor deleters.
    void deallocate(void* p) noexcept {
        if (!p) return;
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = live_.find(p);
        if (it == live_.end()) {
            std::fprintf(stderr, "[recolor] cuda: deallocate of %p, which the pool never gave\n",
                         p);
            return;
        }
        const Block block = it->second;
        live_.erase(it);
        stats_.in_use_bytes -= block.size;
        if (block.small) {
            free_small_[block.size].push_back(p);
        } else {
            free_large_.emplace(block.size, p);
        }
    }

    // Returns every free large block to the driver (cudaFree synchronises the device).
    void empty_cache() {
        std::lock_guard<std::mutex> lock(mutex_);
        release_free_large();
    }

    MemoryStats stats() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return stats_;
    }

  private:
    struct Block {
        size_t size;
        bool small;
    };

    static size_t round_up(size_t n, size_t multiple) {
        return (n + multiple - 1) / multiple * multiple;
    }
    static double mib(size_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

    void* take_small(size_t size) {
        std::vector<void*>& list = free_small_[size];
        void* p = nullptr;
        if (!list.empty()) {
            p = list.back();
            list.pop_back();
        } else {
            if (segment_left_ < size) {
                segment_next_ = static_cast<char*>(device_malloc(segment_bytes, size));
                segment_left_ = segment_bytes;
            }
            p = segment_next_;
            segment_next_ += size;
            segment_left_ -= size;
        }
        live_.emplace(p, Block{size, true});
        return p;
    }

    void* take_large(size_t size) {
        auto it = free_large_.lower_bound(size);
        if (it != free_large_.end() && it->first - size <= it->first / 4) {
            void* p = it->second;
            live_.emplace(p, Block{it->first, false});
            free_large_.erase(it);
            return p;
        }
        void* p = device_malloc(size, size);
        live_.emplace(p, Block{size, false});
        return p;
    }

    void* device_malloc(size_t bytes, size_t requested) {
        context();  // the device and its stream exist before the first block
        void* p = nullptr;
        cudaError_t status = cudaMalloc(&p, bytes);
        if (status == cudaErrorMemoryAllocation && !free_large_.empty()) {
            (void)cudaGetLastError();
            release_free_large();
            status = cudaMalloc(&p, bytes);
        }
        if (status == cudaErrorMemoryAllocation) {
            (void)cudaGetLastError();
            size_t free_bytes = 0, total_bytes = 0;
            RECOLOR_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
            std::ostringstream msg;
            msg << std::fixed << std::setprecision(1) << "cuda: out of memory allocating "
                << mib(requested) << " MiB (" << mib(free_bytes) << " MiB free of "
                << mib(total_bytes) << " MiB; this pool holds " << mib(stats_.reserved_bytes)
                << " MiB, " << mib(stats_.in_use_bytes) << " MiB of it in use)";
            throw Error(msg.str());
        }
        RECOLOR_CUDA_CHECK(status);
        stats_.reserved_bytes += bytes;
        ++stats_.device_allocations;
        RECOLOR_LOG_INFO(std::fixed << std::setprecision(1) << "cuda: pool grew by " << mib(bytes)
                                    << " MiB to " << mib(stats_.reserved_bytes)
                                    << " MiB (a request of " << mib(requested) << " MiB)");
        return p;
    }

    void release_free_large() {
        for (auto& [size, p] : free_large_) {
            RECOLOR_CUDA_CHECK(cudaFree(p));
            stats_.reserved_bytes -= size;
        }
        free_large_.clear();
    }

    mutable std::mutex mutex_;
    std::unordered_map<void*, Block> live_;
    std::unordered_map<size_t, std::vector<void*>> free_small_;
    std::multimap<size_t, void*> free_large_;
    char* segment_next_ = nullptr;
    size_t segment_left_ = 0;
    MemoryStats stats_;
};

// The process's pool; like the context, never destroyed (tensors may outlive main).
inline CachingAllocator& allocator() {
    static CachingAllocator* const instance = new CachingAllocator();
    return *instance;
}

inline MemoryStats memory_stats() {
    return allocator().stats();
}
inline void empty_cache() {
    allocator().empty_cache();
}

// Scratch memory for one backend call, back in the pool when the call returns; safe because
// the kernels that use it are already enqueued on the stream (see above).
template <typename T>
class Scratch {
  public:
    explicit Scratch(size_t count)
        : data_(static_cast<T*>(allocator().allocate(count ? count * sizeof(T) : 1))) {}
    ~Scratch() { allocator().deallocate(data_); }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    T* get() const { return data_; }

  private:
    T* data_;
};

}  // namespace recolor::cuda
