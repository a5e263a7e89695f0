// shim.h is the flat C interface ganshift uses to reach libtorch (ATen and
// autograd). Every function that can fail returns NULL on success or a
// malloc'd error message that the caller frees. No C++ exception crosses it.
// It holds no model logic: only tensors, ops, autograd and the optimizer.
#ifndef GANSHIFT_SHIM_H
#define GANSHIFT_SHIM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gs_tensor_s *gs_tensor;

enum { GS_CPU = 0, GS_CUDA = 1 };
enum { GS_F32 = 0, GS_I64 = 1 };

enum {
  GS_RELU, GS_TANH, GS_SIGMOID, GS_EXP, GS_LOG, GS_NEG, GS_ABS, GS_SQRT,
  GS_SQUARE, GS_CHANNELS_LAST
};
enum { GS_ADD, GS_SUB, GS_MUL, GS_DIV, GS_MAXIMUM };
enum { GS_ADDS, GS_MULS, GS_POWS, GS_CLAMP_MIN, GS_CLAMP_MAX };
enum { GS_SUM, GS_MEAN, GS_AMAX };
enum { GS_AVG_POOL, GS_MAX_POOL };

// Creation, data transfer and lifetime.
char *gs_from_data(const void *data, int dtype, const int64_t *shape, int ndim,
                   int device, gs_tensor *out);
char *gs_full(const int64_t *shape, int ndim, double value, int device,
              gs_tensor *out);
char *gs_copy_out(gs_tensor t, void *dst, int dtype, int64_t numel);
int gs_ndim(gs_tensor t);
void gs_shape(gs_tensor t, int64_t *dims);
int gs_dtype(gs_tensor t);
int gs_device(gs_tensor t);
void gs_free(gs_tensor t);
char *gs_to_device(gs_tensor t, int device, gs_tensor *out);
char *gs_detach(gs_tensor t, gs_tensor *out);
char *gs_copy_(gs_tensor dst, gs_tensor src);
// gs_version is the tensor's in-place version counter: every in-place
// write (copy_, an optimizer step) increases it.
int64_t gs_version(gs_tensor t);

// Autograd.
char *gs_set_requires_grad(gs_tensor t, int on);
int gs_requires_grad(gs_tensor t);
char *gs_grad(gs_tensor t, gs_tensor *out);
void gs_clear_grad(gs_tensor t);
char *gs_backward(gs_tensor loss);
char *gs_backward_with(gs_tensor t, gs_tensor grad);

// Ops. grad says whether autograd records the op.
char *gs_unary(int grad, int op, gs_tensor a, gs_tensor *out);
char *gs_binary(int grad, int op, gs_tensor a, gs_tensor b, gs_tensor *out);
char *gs_scalar(int grad, int op, gs_tensor a, double s, gs_tensor *out);
char *gs_reduce(int grad, int op, gs_tensor a, const int64_t *dims, int ndims,
                int keepdim, gs_tensor *out);
char *gs_reshape(int grad, gs_tensor a, const int64_t *shape, int n,
                 gs_tensor *out);
char *gs_permute(int grad, gs_tensor a, const int64_t *dims, int n,
                 gs_tensor *out);
char *gs_cat(int grad, const gs_tensor *ts, int n, int64_t dim, gs_tensor *out);
char *gs_narrow(int grad, gs_tensor a, int64_t dim, int64_t start,
                int64_t length, gs_tensor *out);
char *gs_index_select(int grad, gs_tensor a, int64_t dim, gs_tensor index,
                      gs_tensor *out);
char *gs_matmul(int grad, gs_tensor a, gs_tensor b, gs_tensor *out);
char *gs_linear(int grad, gs_tensor x, gs_tensor w, gs_tensor b,
                gs_tensor *out);
char *gs_conv2d(int grad, gs_tensor x, gs_tensor w, gs_tensor b,
                int64_t stride, int64_t pad, int64_t groups, gs_tensor *out);
char *gs_pool2d(int grad, int op, gs_tensor x, int64_t kernel, int64_t stride,
                int64_t pad, gs_tensor *out);
char *gs_upsample(int grad, gs_tensor x, int64_t h, int64_t w, int bilinear,
                  gs_tensor *out);
char *gs_batch_norm(int grad, gs_tensor x, gs_tensor w, gs_tensor b,
                    gs_tensor mean, gs_tensor var, int training,
                    double momentum, double eps, gs_tensor *out);
char *gs_softmax(int grad, int log, gs_tensor a, int64_t dim, gs_tensor *out);
char *gs_cross_entropy(int grad, gs_tensor logits, gs_tensor target,
                       gs_tensor *out);
char *gs_embedding(int grad, gs_tensor w, gs_tensor index, gs_tensor *out);
char *gs_argmax(gs_tensor a, int64_t dim, gs_tensor *out);

// Optimizer and in-place updates, never recorded by autograd.
char *gs_adam_step(const gs_tensor *params, const gs_tensor *m,
                   const gs_tensor *v, int n, int64_t step, double lr,
                   double beta1, double beta2, double eps);
char *gs_zero_grads(const gs_tensor *params, int n);
char *gs_lerp_(gs_tensor dst, gs_tensor src, double weight);

// Autocast (opt-in mixed precision). gs_set_autocast_bf16 turns CPU
// autocast to bfloat16 on or off for the calling thread: the ops autocast
// lists (convolutions, matrix products) then run in bfloat16 on float32
// inputs. gs_to_float casts a tensor to float32, differentiably.
void gs_set_autocast_bf16(int on);
char *gs_to_float(int grad, gs_tensor a, gs_tensor *out);

// Runtime.
void gs_set_threads(int n);
void gs_ensure_threads(int n);
int gs_get_threads(void);
int gs_cuda_available(void);

#ifdef __cplusplus
}
#endif

#endif
