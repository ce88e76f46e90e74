// The parameters of a quantized add (kernels.h QuantizedAddArgs), computed once per call in baseline code.
#include <cmath>

#include "edgeinfer/kernels.h"

namespace edgeinfer {

void quantized_add_parameters(QuantizedAddArgs& a) {
  // ORT's build computes c_zero_point - (ra * a_zero_point + rb * b_zero_point) with the first product and the
  // sum contracted into one fused multiply-add (measured: that form matches its levels on every element of QDQ
  // ResNet-18's residual adds over six inputs, separate roundings miss one in 100 000). volatile keeps our own
  // compiler from contracting anything else.
  volatile float ra = a.a_scale / a.c_scale;
  volatile float rb = a.b_scale / a.c_scale;
  volatile float tb = rb * static_cast<float>(a.b_zero_point);
  volatile float sum = std::fma(static_cast<float>(ra), static_cast<float>(a.a_zero_point), static_cast<float>(tb));
  a.ra = ra;
  a.rb = rb;
  a.a_inverse = 1.0f / a.a_scale;
  a.b_inverse = 1.0f / a.b_scale;
  a.fixed = static_cast<float>(a.c_zero_point) - sum;
}

}  // namespace edgeinfer
