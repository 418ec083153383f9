#include "stats.hpp"

namespace fastloss {

double nan_max(double a, double b) {
  if (a != a) return a;
  if (b != b) return b;
  return a > b ? a : b;
}

RegressionStats merge(const RegressionStats& a, const RegressionStats& b) {
  if (b.count == 0) return a;
  if (a.count == 0) return b;
  RegressionStats m;
  m.count = a.count + b.count;
  m.weight_sum = a.weight_sum + b.weight_sum;
  m.sq_sum = a.sq_sum + b.sq_sum;
  m.abs_sum = a.abs_sum + b.abs_sum;
  m.huber_sum = a.huber_sum + b.huber_sum;
  m.max_abs = nan_max(a.max_abs, b.max_abs);
  if (m.weight_sum > 0.0) {
    const double delta = b.y_mean - a.y_mean;
    const double share_b = b.weight_sum / m.weight_sum;
    m.y_mean = a.y_mean + delta * share_b;
    m.y_m2 = a.y_m2 + b.y_m2 + delta * delta * a.weight_sum * share_b;
  } else {
    m.y_mean = 0.0;
    m.y_m2 = a.y_m2 + b.y_m2;
  }
  return m;
}

}  // namespace fastloss
