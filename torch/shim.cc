// shim.cc implements shim.h over ATen. Each entry point catches every C++
// exception and returns its message, so errors travel with the call that
// caused them (a goroutine may change OS threads between two cgo calls).
#include "shim.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <ATen/core/grad_mode.h>
#include <c10/util/Exception.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

struct gs_tensor_s {
  at::Tensor t;
};

namespace {

char *dup_error(const char *msg) {
  size_t n = std::strlen(msg);
  char *out = static_cast<char *>(std::malloc(n + 1));
  std::memcpy(out, msg, n + 1);
  return out;
}

gs_tensor wrap(at::Tensor t) { return new gs_tensor_s{std::move(t)}; }

at::Device device_of(int device) {
  return device == GS_CUDA ? at::Device(at::kCUDA) : at::Device(at::kCPU);
}

at::ScalarType scalar_of(int dtype) {
  return dtype == GS_I64 ? at::kLong : at::kFloat;
}

c10::optional<at::Tensor> maybe(gs_tensor t) {
  if (t == nullptr) return c10::nullopt;
  return t->t;
}

}  // namespace

// GS_TRY runs body under the requested grad mode and turns any exception
// into an error string. c10 errors drop their C++ backtrace: users need the
// message, not the frames.
#define GS_TRY(grad, body)                                  \
  try {                                                     \
    at::AutoGradMode gs_mode_(grad != 0);                   \
    body;                                                   \
    return nullptr;                                         \
  } catch (const c10::Error &e) {                           \
    return dup_error(e.what_without_backtrace());           \
  } catch (const std::exception &e) {                       \
    return dup_error(e.what());                             \
  } catch (...) {                                           \
    return dup_error("unknown C++ exception");              \
  }

extern "C" {

char *gs_from_data(const void *data, int dtype, const int64_t *shape, int ndim,
                   int device, gs_tensor *out) {
  GS_TRY(0, {
    auto opts = at::TensorOptions().dtype(scalar_of(dtype));
    at::Tensor host = at::empty(at::IntArrayRef(shape, ndim), opts);
    std::memcpy(host.data_ptr(), data, host.numel() * host.element_size());
    *out = wrap(device == GS_CPU ? host : host.to(device_of(device)));
  })
}

char *gs_full(const int64_t *shape, int ndim, double value, int device,
              gs_tensor *out) {
  GS_TRY(0, {
    auto opts = at::TensorOptions().dtype(at::kFloat).device(device_of(device));
    *out = wrap(at::full(at::IntArrayRef(shape, ndim), value, opts));
  })
}

char *gs_copy_out(gs_tensor t, void *dst, int dtype, int64_t numel) {
  GS_TRY(0, {
    at::Tensor host =
        t->t.detach().to(at::kCPU, scalar_of(dtype)).contiguous();
    if (host.numel() != numel) {
      throw std::runtime_error("copy out: size mismatch");
    }
    std::memcpy(dst, host.data_ptr(), numel * host.element_size());
  })
}

int gs_ndim(gs_tensor t) { return static_cast<int>(t->t.dim()); }

void gs_shape(gs_tensor t, int64_t *dims) {
  for (int64_t i = 0; i < t->t.dim(); i++) dims[i] = t->t.size(i);
}

int gs_dtype(gs_tensor t) {
  return t->t.scalar_type() == at::kLong ? GS_I64 : GS_F32;
}

int gs_device(gs_tensor t) { return t->t.is_cuda() ? GS_CUDA : GS_CPU; }

void gs_free(gs_tensor t) { delete t; }

char *gs_to_device(gs_tensor t, int device, gs_tensor *out) {
  // copy: to() on the tensor's own device would otherwise return an alias.
  GS_TRY(1, {
    *out = wrap(t->t.to(device_of(device), t->t.scalar_type(), false, true));
  })
}

char *gs_detach(gs_tensor t, gs_tensor *out) {
  GS_TRY(0, { *out = wrap(t->t.detach()); })
}

char *gs_copy_(gs_tensor dst, gs_tensor src) {
  GS_TRY(0, { dst->t.copy_(src->t); })
}

int64_t gs_version(gs_tensor t) {
  return static_cast<int64_t>(t->t._version());
}

char *gs_set_requires_grad(gs_tensor t, int on) {
  GS_TRY(0, { t->t.set_requires_grad(on != 0); })
}

int gs_requires_grad(gs_tensor t) { return t->t.requires_grad() ? 1 : 0; }

char *gs_grad(gs_tensor t, gs_tensor *out) {
  GS_TRY(0, {
    const at::Tensor &g = t->t.grad();
    *out = g.defined() ? wrap(g) : nullptr;
  })
}

void gs_clear_grad(gs_tensor t) { t->t.mutable_grad().reset(); }

char *gs_backward(gs_tensor loss) {
  GS_TRY(1, { loss->t.backward(); })
}

char *gs_backward_with(gs_tensor t, gs_tensor grad) {
  GS_TRY(1, { t->t.backward(grad->t); })
}

char *gs_unary(int grad, int op, gs_tensor a, gs_tensor *out) {
  GS_TRY(grad, {
    const at::Tensor &x = a->t;
    at::Tensor r;
    switch (op) {
      case GS_RELU: r = at::relu(x); break;
      case GS_TANH: r = at::tanh(x); break;
      case GS_SIGMOID: r = at::sigmoid(x); break;
      case GS_EXP: r = at::exp(x); break;
      case GS_LOG: r = at::log(x); break;
      case GS_NEG: r = at::neg(x); break;
      case GS_ABS: r = at::abs(x); break;
      case GS_SQRT: r = at::sqrt(x); break;
      case GS_SQUARE: r = at::mul(x, x); break;
      case GS_CHANNELS_LAST: r = x.contiguous(at::MemoryFormat::ChannelsLast); break;
      default: throw std::runtime_error("unknown unary op");
    }
    *out = wrap(r);
  })
}

char *gs_binary(int grad, int op, gs_tensor a, gs_tensor b, gs_tensor *out) {
  GS_TRY(grad, {
    at::Tensor r;
    switch (op) {
      case GS_ADD: r = at::add(a->t, b->t); break;
      case GS_SUB: r = at::sub(a->t, b->t); break;
      case GS_MUL: r = at::mul(a->t, b->t); break;
      case GS_DIV: r = at::div(a->t, b->t); break;
      case GS_MAXIMUM: r = at::maximum(a->t, b->t); break;
      default: throw std::runtime_error("unknown binary op");
    }
    *out = wrap(r);
  })
}

char *gs_scalar(int grad, int op, gs_tensor a, double s, gs_tensor *out) {
  GS_TRY(grad, {
    at::Tensor r;
    switch (op) {
      case GS_ADDS: r = at::add(a->t, s); break;
      case GS_MULS: r = at::mul(a->t, s); break;
      case GS_POWS: r = at::pow(a->t, s); break;
      case GS_CLAMP_MIN: r = at::clamp_min(a->t, s); break;
      case GS_CLAMP_MAX: r = at::clamp_max(a->t, s); break;
      default: throw std::runtime_error("unknown scalar op");
    }
    *out = wrap(r);
  })
}

char *gs_reduce(int grad, int op, gs_tensor a, const int64_t *dims, int ndims,
                int keepdim, gs_tensor *out) {
  GS_TRY(grad, {
    at::Tensor r;
    at::IntArrayRef d(dims, ndims);
    bool all = ndims == 0;
    std::vector<int64_t> every;
    if (all && keepdim) {  // at::sum(x) and at::mean(x) drop keepdim
      for (int64_t i = 0; i < a->t.dim(); i++) every.push_back(i);
      d = every;
      all = false;
    }
    switch (op) {
      case GS_SUM: r = all ? at::sum(a->t) : at::sum(a->t, d, keepdim); break;
      case GS_MEAN: r = all ? at::mean(a->t) : at::mean(a->t, d, keepdim); break;
      case GS_AMAX: r = at::amax(a->t, d, keepdim); break;
      default: throw std::runtime_error("unknown reduction");
    }
    *out = wrap(r);
  })
}

char *gs_reshape(int grad, gs_tensor a, const int64_t *shape, int n,
                 gs_tensor *out) {
  GS_TRY(grad, { *out = wrap(at::reshape(a->t, at::IntArrayRef(shape, n))); })
}

char *gs_permute(int grad, gs_tensor a, const int64_t *dims, int n,
                 gs_tensor *out) {
  GS_TRY(grad, {
    *out = wrap(a->t.permute(at::IntArrayRef(dims, n)).contiguous());
  })
}

char *gs_cat(int grad, const gs_tensor *ts, int n, int64_t dim, gs_tensor *out) {
  GS_TRY(grad, {
    std::vector<at::Tensor> parts;
    parts.reserve(n);
    for (int i = 0; i < n; i++) parts.push_back(ts[i]->t);
    *out = wrap(at::cat(parts, dim));
  })
}

char *gs_narrow(int grad, gs_tensor a, int64_t dim, int64_t start,
                int64_t length, gs_tensor *out) {
  GS_TRY(grad, { *out = wrap(a->t.narrow(dim, start, length)); })
}

char *gs_index_select(int grad, gs_tensor a, int64_t dim, gs_tensor index,
                      gs_tensor *out) {
  GS_TRY(grad, { *out = wrap(at::index_select(a->t, dim, index->t)); })
}

char *gs_matmul(int grad, gs_tensor a, gs_tensor b, gs_tensor *out) {
  GS_TRY(grad, { *out = wrap(at::matmul(a->t, b->t)); })
}

char *gs_linear(int grad, gs_tensor x, gs_tensor w, gs_tensor b,
                gs_tensor *out) {
  GS_TRY(grad, { *out = wrap(at::linear(x->t, w->t, maybe(b))); })
}

char *gs_conv2d(int grad, gs_tensor x, gs_tensor w, gs_tensor b,
                int64_t stride, int64_t pad, int64_t groups, gs_tensor *out) {
  GS_TRY(grad, {
    *out = wrap(at::conv2d(x->t, w->t, maybe(b), {stride, stride}, {pad, pad},
                           {1, 1}, groups));
  })
}

char *gs_pool2d(int grad, int op, gs_tensor x, int64_t kernel, int64_t stride,
                int64_t pad, gs_tensor *out) {
  GS_TRY(grad, {
    if (op == GS_AVG_POOL) {
      *out = wrap(at::avg_pool2d(x->t, {kernel, kernel}, {stride, stride},
                                 {pad, pad}));
    } else {
      *out = wrap(at::max_pool2d(x->t, {kernel, kernel}, {stride, stride},
                                 {pad, pad}));
    }
  })
}

char *gs_upsample(int grad, gs_tensor x, int64_t h, int64_t w, int bilinear,
                  gs_tensor *out) {
  GS_TRY(grad, {
    if (bilinear) {
      *out = wrap(at::upsample_bilinear2d(x->t, {h, w}, false));
    } else {
      *out = wrap(at::upsample_nearest2d(x->t, {h, w}));
    }
  })
}

char *gs_batch_norm(int grad, gs_tensor x, gs_tensor w, gs_tensor b,
                    gs_tensor mean, gs_tensor var, int training,
                    double momentum, double eps, gs_tensor *out) {
  GS_TRY(grad, {
    *out = wrap(at::batch_norm(x->t, maybe(w), maybe(b), maybe(mean),
                               maybe(var), training != 0, momentum, eps,
                               false));
  })
}

char *gs_softmax(int grad, int log, gs_tensor a, int64_t dim, gs_tensor *out) {
  GS_TRY(grad, {
    *out = wrap(log ? at::log_softmax(a->t, dim) : at::softmax(a->t, dim));
  })
}

char *gs_cross_entropy(int grad, gs_tensor logits, gs_tensor target,
                       gs_tensor *out) {
  GS_TRY(grad, { *out = wrap(at::cross_entropy_loss(logits->t, target->t)); })
}

char *gs_embedding(int grad, gs_tensor w, gs_tensor index, gs_tensor *out) {
  GS_TRY(grad, { *out = wrap(at::embedding(w->t, index->t)); })
}

char *gs_argmax(gs_tensor a, int64_t dim, gs_tensor *out) {
  GS_TRY(0, { *out = wrap(at::argmax(a->t, dim)); })
}

char *gs_adam_step(const gs_tensor *params, const gs_tensor *m,
                   const gs_tensor *v, int n, int64_t step, double lr,
                   double beta1, double beta2, double eps) {
  GS_TRY(0, {
    double bc1 = 1 - std::pow(beta1, static_cast<double>(step));
    double bc2 = 1 - std::pow(beta2, static_cast<double>(step));
    for (int i = 0; i < n; i++) {
      at::Tensor &p = params[i]->t;
      const at::Tensor &g = p.grad();
      if (!g.defined()) continue;
      at::Tensor &mi = m[i]->t;
      at::Tensor &vi = v[i]->t;
      mi.mul_(beta1).add_(g, 1 - beta1);
      vi.mul_(beta2).addcmul_(g, g, 1 - beta2);
      at::Tensor denom = (vi.sqrt() / std::sqrt(bc2)).add_(eps);
      p.addcdiv_(mi, denom, -lr / bc1);
    }
  })
}

char *gs_zero_grads(const gs_tensor *params, int n) {
  GS_TRY(0, {
    for (int i = 0; i < n; i++) params[i]->t.mutable_grad().reset();
  })
}

char *gs_lerp_(gs_tensor dst, gs_tensor src, double weight) {
  GS_TRY(0, { dst->t.lerp_(src->t, weight); })
}

void gs_set_autocast_bf16(int on) {
  at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  at::autocast::set_cpu_enabled(on != 0);
  if (on == 0) at::autocast::clear_cache();
}

char *gs_to_float(int grad, gs_tensor a, gs_tensor *out) {
  GS_TRY(grad, { *out = wrap(a->t.to(at::kFloat)); })
}

void gs_set_threads(int n) { at::set_num_threads(n); }

// OpenMP keeps the thread count per OS thread, so a goroutine that lands
// on a new thread must set it again.
void gs_ensure_threads(int n) {
  if (n > 0 && at::get_num_threads() != n) at::set_num_threads(n);
}

int gs_get_threads(void) { return at::get_num_threads(); }

int gs_cuda_available(void) { return at::hasCUDA() ? 1 : 0; }

}  // extern "C"
