// stb_image compiled from its header inside the fuzzers, instead of Debian's prebuilt libstb, so
// that the sanitizers and libFuzzer's coverage see into the decoders themselves.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image.h>
#include <stb_image_resize.h>
#include <stb_image_write.h>
