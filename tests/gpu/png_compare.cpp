// Compares the pixels of two PNGs (their text chunks may differ: the plan is
// recorded in them): max and mean absolute difference and PSNR over RGB.
//   png_compare A.png B.png [--max-mean 1.0]
// Exit 0 when the mean absolute difference is at most --max-mean (0-255 scale).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "io/png_image.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: png_compare A.png B.png [--max-mean 1.0]\n");
    return 2;
  }
  double max_mean = 1.0;
  if (argc >= 5 && std::string(argv[3]) == "--max-mean") max_mean = std::atof(argv[4]);
  try {
    const auto a = baton::io::read_png(argv[1]), b = baton::io::read_png(argv[2]);
    if (a.image.width != b.image.width || a.image.height != b.image.height) {
      std::printf("png_compare: sizes differ: %lldx%lld and %lldx%lld\n", static_cast<long long>(a.image.width),
                  static_cast<long long>(a.image.height), static_cast<long long>(b.image.width),
                  static_cast<long long>(b.image.height));
      return 1;
    }
    int max_diff = 0;
    double sum = 0, squares = 0;
    const size_t n = a.image.pixels.size();
    for (size_t i = 0; i < n; ++i) {
      const int d = std::abs(int(a.image.pixels[i]) - int(b.image.pixels[i]));
      max_diff = std::max(max_diff, d);
      sum += d;
      squares += double(d) * d;
    }
    const double mean = n ? sum / n : 0, mse = n ? squares / n : 0;
    const double psnr = mse > 0 ? 10 * std::log10(255.0 * 255.0 / mse) : INFINITY;
    const bool ok = mean <= max_mean;
    std::printf("png_compare: %s vs %s: max abs diff %d, mean abs diff %.4f, PSNR %.2f dB%s: %s\n", argv[1], argv[2],
                max_diff, mean, psnr, max_diff == 0 ? " (identical pixels)" : "", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
  } catch (const baton::Error& e) {
    std::printf("png_compare: %s\n", e.what());
    return 1;
  }
}
