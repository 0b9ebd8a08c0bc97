// RECOLOR_HOST_DEVICE marks a function whose math the CPU loop and the CUDA kernel share: under
// nvcc it compiles for both sides, under a plain C++ compiler it is an ordinary inline function.
#pragma once

#if defined(__CUDACC__)
#define RECOLOR_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define RECOLOR_HOST_DEVICE inline
#endif
