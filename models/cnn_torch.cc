// LibTorch implementation of CnnModel: the networks (ResNet-8 style with dilations, small
// U-Net), tiled inference, Adam training step with PN / GE-binomial losses, model files,
// checkpoints and TorchScript export. The networks are written with functional ops on named
// parameters so that the C++ forward and the generated TorchScript are the same computation.
#include <torch/script.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "models/cnn_model.h"

namespace emkit {
namespace {

struct ConvSpec {
  int in, out, k, dilation;
  bool bn;
};

// Layer lists of the two architectures; forward code below refers to them by index.
bool IsResNet(const std::string& arch) { return arch == "resnet8" || arch == "resnet10"; }
std::vector<int> ResNetDilations(const std::string& arch) {
  return arch == "resnet10" ? std::vector<int>{1, 2, 4, 8} : std::vector<int>{1, 2, 4};
}

std::vector<ConvSpec> Layers(const std::string& arch, int w) {
  if (IsResNet(arch)) {
    // stem 5x5, residual blocks of two 3x3 convs with dilations 1, 2, 4 (resnet8) or
    // 1, 2, 4, 8 (resnet10), 1x1 head.
    std::vector<ConvSpec> l = {{1, w, 5, 1, true}};
    for (int d : ResNetDilations(arch)) {
      l.push_back({w, w, 3, d, true});
      l.push_back({w, w, 3, d, true});
    }
    l.push_back({w, 1, 1, 1, false});
    return l;
  }
  if (arch == "unet") {
    return {{1, w, 3, 1, true},         {w, w, 3, 1, true},          // enc0 (0,1)
            {w, 2 * w, 3, 1, true},     {2 * w, 2 * w, 3, 1, true},  // enc1 (2,3)
            {2 * w, 4 * w, 3, 1, true}, {4 * w, 4 * w, 3, 1, true},  // middle (4,5)
            {6 * w, 2 * w, 3, 1, true}, {2 * w, 2 * w, 3, 1, true},  // dec1 (6,7)
            {3 * w, w, 3, 1, true},     {w, w, 3, 1, true},          // dec0 (8,9)
            {w, 1, 1, 1, false}};                                    // head (10)
  }
  throw InvalidInputError("architecture '" + arch + "': expected resnet8, resnet10 or unet");
}

std::string P(const char* kind, int i) { return "l" + std::to_string(i) + "_" + kind; }

// Parameters and batch-norm buffers of a layer list, with functional forward.
struct NetImpl : torch::nn::Module {
  NetImpl(const std::string& arch, int width) : arch(arch), specs(Layers(arch, width)) {
    for (std::size_t i = 0; i < specs.size(); ++i) {
      const auto& s = specs[i];
      const int li = static_cast<int>(i);
      // Kaiming-uniform like torch's Conv2d default.
      // He-uniform for the ReLU layers; the head starts at a low prior (particles are rare).
      const double fan_in = double(s.in) * s.k * s.k;
      const double bound = s.bn ? std::sqrt(6.0 / fan_in) : 1.0 / std::sqrt(fan_in);
      weight.push_back(register_parameter(P("w", li), torch::empty({s.out, s.in, s.k, s.k}).uniform_(-bound, bound)));
      bias.push_back(register_parameter(P("b", li), s.bn ? torch::zeros({s.out}) : torch::full({s.out}, -3.0)));
      if (s.bn) {
        gamma.push_back(register_parameter(P("g", li), torch::ones({s.out})));
        beta.push_back(register_parameter(P("be", li), torch::zeros({s.out})));
        mean.push_back(register_buffer(P("m", li), torch::zeros({s.out})));
        var.push_back(register_buffer(P("v", li), torch::ones({s.out})));
      } else {
        gamma.emplace_back();
        beta.emplace_back();
        mean.emplace_back();
        var.emplace_back();
      }
    }
  }

  torch::Tensor Conv(int i, const torch::Tensor& x, bool relu) {
    const auto& s = specs[i];
    const int64_t pad = int64_t(s.dilation) * (s.k - 1) / 2;
    if (Fused()) {  // inference: batch norm folded into the convolution, ReLU in place
      auto y = torch::conv2d(x, fused_weight[i], fused_bias[i], {1, 1}, {pad, pad}, {s.dilation, s.dilation}, 1);
      return relu ? y.relu_() : y;
    }
    auto y = torch::conv2d(x, weight[i], bias[i], {1, 1}, {pad, pad}, {s.dilation, s.dilation}, 1);
    if (s.bn) y = torch::batch_norm(y, gamma[i], beta[i], mean[i], var[i], is_training(), 0.1, 1e-5, false);
    return relu ? torch::relu(y) : y;
  }

  // Eval-mode batch norm is an affine map per channel, so it folds into the convolution before it:
  // w' = w g / sqrt(v + eps), b' = (b - m) g / sqrt(v + eps) + beta. Saves one pass over every
  // activation (emkit pick with 4-fold augmentation ~17% faster); equal to the unfolded network to
  // float rounding (tests). The folded weights are laid out in `format` (inference's layout).
  void FuseBatchNorm(torch::MemoryFormat format) {
    torch::NoGradGuard g;
    fused_weight.clear(), fused_bias.clear();
    for (std::size_t i = 0; i < specs.size(); ++i) {
      if (!specs[i].bn) {
        fused_weight.push_back(weight[i].contiguous(format)), fused_bias.push_back(bias[i]);
        continue;
      }
      auto scale = gamma[i] / torch::sqrt(var[i] + 1e-5);
      fused_weight.push_back((weight[i] * scale.view({-1, 1, 1, 1})).contiguous(format));
      fused_bias.push_back((bias[i] - mean[i]) * scale + beta[i]);
    }
  }
  void Unfuse() { fused_weight.clear(), fused_bias.clear(); }
  bool Fused() const { return !fused_weight.empty() && !is_training(); }

  int NumBlocks() const { return static_cast<int>(specs.size() - 2) / 2; }  // ResNet residual blocks

  static torch::Tensor Up(const torch::Tensor& x) { return x.repeat_interleave(2, 2).repeat_interleave(2, 3); }

  // x: (N,1,H,W) with H, W multiples of SizeMultiple().
  torch::Tensor forward(torch::Tensor x) {
    if (IsResNet(arch)) {
      const int blocks = NumBlocks();
      x = Conv(0, x, true);
      for (int b = 0; b < blocks; ++b) {
        auto y = Conv(1 + 2 * b, x, true);
        y = Conv(2 + 2 * b, y, false);
        x = Fused() ? y.add_(x).relu_() : torch::relu(x + y);
      }
      return Conv(1 + 2 * blocks, x, false);
    }
    auto e0 = Conv(1, Conv(0, x, true), true);
    auto e1 = Conv(3, Conv(2, torch::max_pool2d(e0, {2, 2}, {2, 2}), true), true);
    auto m = Conv(5, Conv(4, torch::max_pool2d(e1, {2, 2}, {2, 2}), true), true);
    auto d1 = Conv(7, Conv(6, torch::cat({Up(m), e1}, 1), true), true);
    auto d0 = Conv(9, Conv(8, torch::cat({Up(d1), e0}, 1), true), true);
    return Conv(10, d0, false);
  }

  // The same forward as TorchScript source (eval mode), with padding to the size multiple and
  // the test-time augmentation (tta dihedral transforms, as CnnModel::Impl::Infer).
  // smooth_radius > 0: the log-odds map is blurred by the buffers score_kernel_row/_column.
  std::string ScriptSource(int multiple, int margin, int tta, int smooth_radius) const {
    std::ostringstream s;
    auto conv = [&](int i, const std::string& in, bool relu) {
      const auto& c = specs[i];
      const int pad = c.dilation * (c.k - 1) / 2;
      std::ostringstream e;
      e << "torch.conv2d(" << in << ", self." << P("w", i) << ", self." << P("b", i) << ", [1, 1], [" << pad << ", "
        << pad << "], [" << c.dilation << ", " << c.dilation << "], 1)";
      std::string y = e.str();
      if (c.bn)
        y = "torch.batch_norm(" + y + ", self." + P("g", i) + ", self." + P("be", i) + ", self." + P("m", i) +
            ", self." + P("v", i) + ", False, 0.1, 1e-05, False)";
      return relu ? "torch.relu(" + y + ")" : y;
    };
    s << "def net(self, x):\n";
    if (IsResNet(arch)) {
      const int blocks = NumBlocks();
      s << "    x = " << conv(0, "x", true) << "\n";
      for (int b = 0; b < blocks; ++b) {
        s << "    y = " << conv(1 + 2 * b, "x", true) << "\n";
        s << "    y = " << conv(2 + 2 * b, "y", false) << "\n";
        s << "    x = torch.relu(x + y)\n";
      }
      s << "    x = " << conv(1 + 2 * blocks, "x", false) << "\n";
    } else {
      auto up = [](const std::string& v) { return v + ".repeat_interleave(2, 2).repeat_interleave(2, 3)"; };
      s << "    e0 = " << conv(1, conv(0, "x", true), true) << "\n";
      s << "    e1 = " << conv(3, conv(2, "torch.max_pool2d(e0, [2, 2], [2, 2])", true), true) << "\n";
      s << "    m = " << conv(5, conv(4, "torch.max_pool2d(e1, [2, 2], [2, 2])", true), true) << "\n";
      s << "    d1 = " << conv(7, conv(6, "torch.cat([" + up("m") + ", e1], 1)", true), true) << "\n";
      s << "    d0 = " << conv(9, conv(8, "torch.cat([" + up("d1") + ", e0], 1)", true), true) << "\n";
      s << "    x = " << conv(10, "d0", false) << "\n";
    }
    s << "    return x\n\n";
    s << "def forward(self, x):\n"
      << "    h = x.size(2)\n    w = x.size(3)\n"
      << "    if h > " << margin << " and w > " << margin << ":\n"
      << "        x = torch.reflection_pad2d(x, [" << margin << ", " << margin << ", " << margin << ", " << margin
      << "])\n"
      << "    else:\n"
      << "        x = torch.replication_pad2d(x, [" << margin << ", " << margin << ", " << margin << ", " << margin
      << "])\n"
      << "    ph = (" << multiple << " - x.size(2) % " << multiple << ") % " << multiple << "\n"
      << "    pw = (" << multiple << " - x.size(3) % " << multiple << ") % " << multiple << "\n"
      << "    x = torch.constant_pad_nd(x, [0, pw, 0, ph], 0.0)\n"
      << "    y = self.net(x)\n";
    for (int t = 1; t < tta; ++t) {
      const int k = t % 4;
      std::string in = t >= 4 ? "torch.flip(x, [3])" : "x";
      if (k) in = "torch.rot90(" + in + ", " + std::to_string(k) + ", [2, 3])";
      std::string out = "self.net(" + in + ")";
      if (k) out = "torch.rot90(" + out + ", " + std::to_string(-k) + ", [2, 3])";
      if (t >= 4) out = "torch.flip(" + out + ", [3])";
      s << "    y = y + " << out << "\n";
    }
    s << "    x = y / " << tta << ".0\n";
    s << "    x = x[:, :, " << margin << ":" << margin << " + h, " << margin << ":" << margin << " + w]\n";
    if (smooth_radius > 0) {
      const int r = smooth_radius;
      s << "    if h > " << r << " and w > " << r << ":\n"
        << "        x = torch.reflection_pad2d(x, [" << r << ", " << r << ", " << r << ", " << r << "])\n"
        << "    else:\n"
        << "        x = torch.replication_pad2d(x, [" << r << ", " << r << ", " << r << ", " << r << "])\n"
        << "    x = torch.conv2d(torch.conv2d(x, self.score_kernel_row), self.score_kernel_column)\n";
    }
    s << "    return x\n";
    return s.str();
  }

  std::string arch;
  std::vector<ConvSpec> specs;
  std::vector<torch::Tensor> weight, bias, gamma, beta, mean, var;
  std::vector<torch::Tensor> fused_weight, fused_bias;  // set during CnnModel::Predict only
};

// Receptive field by the usual recursion (rf += (k-1)·d·jump; pooling doubles the jump).
int AnalyticReceptiveField(const std::string& arch, const std::vector<ConvSpec>& l) {
  if (IsResNet(arch)) {
    int rf = 1;
    for (const auto& s : l) rf += (s.k - 1) * s.dilation;
    return rf;
  }
  // U-Net: enc0 (jump 1), pool, enc1 (jump 2), pool, middle (jump 4), dec1 (jump 2), dec0 (jump 1).
  int rf = 1 + 2 + 2;
  rf += 1;
  rf += 2 * 2 + 2 * 2;
  rf += 2;
  rf += 2 * 4 + 2 * 4;
  rf += 2 * 2 + 2 * 2;
  rf += 2 + 2;
  // Pooling alignment can add up to (2-1)+(2-1)*2 pixels on one side.
  return rf + 3 + (rf + 3 + 1) % 2;
}

torch::Tensor LossTensor(const torch::Tensor& logits, const torch::Tensor& labels, const torch::Tensor& mask,
                         const CnnLossOptions& o) {
  auto z = logits.reshape({-1});
  auto y = labels.reshape({-1});
  if (o.objective == CnnObjective::kPn) {
    auto sel = y >= 0;
    auto zs = z.masked_select(sel);
    auto ys = y.masked_select(sel);
    if (zs.numel() == 0) return z.sum() * 0;
    auto wts = torch::where(ys > 0.5, torch::full_like(ys, o.positive_weight), torch::ones_like(ys));
    if (o.focal_gamma > 0) {
      auto bce = torch::binary_cross_entropy_with_logits(zs, ys, wts, {}, at::Reduction::None);
      auto p = torch::sigmoid(zs);
      auto pt = torch::where(ys > 0.5, p, 1 - p);
      return ((1 - pt).pow(o.focal_gamma) * bce).mean();
    }
    return torch::binary_cross_entropy_with_logits(zs, ys, wts);
  }
  auto pos = y > 0.5;
  auto zp = z.masked_select(pos);
  const int64_t n_pos = zp.numel();
  auto bce = n_pos ? torch::binary_cross_entropy_with_logits(zp, torch::ones_like(zp), {}, {}, at::Reduction::Sum)
                   : z.sum() * 0;
  auto unl = y.abs() < 0.5;
  if (mask.defined() && mask.numel() > 0) unl = unl.logical_and(mask.reshape({-1}) > 0.5);
  auto p = torch::sigmoid(z.masked_select(unl)).to(torch::kDouble);
  const int64_t n = p.numel();
  torch::Tensor penalty = z.sum().to(torch::kDouble) * 0;
  if (n > 0) {
    auto mu = p.sum();
    auto var = (p * (1 - p)).sum();
    auto c = torch::arange(0, n + 1, torch::TensorOptions().dtype(torch::kDouble).device(p.device()));
    auto q = torch::softmax(-0.5 * (mu - c).pow(2) / (var + 1e-10), 0);
    const double N = double(n), pi = o.pi;
    auto log_binom = std::lgamma(N + 1) - torch::lgamma(c + 1) - torch::lgamma(N - c + 1) + c * std::log(pi) +
                     (N - c) * std::log1p(-pi);
    penalty = -(q * log_binom).sum();
  }
  return (bce.to(torch::kDouble) + o.slack * penalty) / double(std::max<int64_t>(1, n_pos));
}

// Normalised Gaussian of the given sigma (pixels) sampled on [-r, r], r = ceil(3 sigma), shaped (1, 1, 1, 2r + 1).
torch::Tensor GaussianRow(double sigma) {
  const int r = std::max(1, static_cast<int>(std::ceil(3 * sigma)));
  std::vector<float> k(2 * r + 1);
  double sum = 0;
  for (int i = -r; i <= r; ++i) sum += k[i + r] = static_cast<float>(std::exp(-0.5 * i * i / (sigma * sigma)));
  for (float& v : k) v = static_cast<float>(v / sum);
  return torch::tensor(k, torch::kFloat32).view({1, 1, 1, 2 * r + 1});
}

// Separable Gaussian blur of a (1, 1, H, W) map; edges mirrored (replicated if the map is smaller
// than the kernel), as the exported TorchScript does.
// Pads a (N, C, H, W) map by r on every side: mirrored about the edge pixels, replicated where
// the map is too small to mirror.
torch::Tensor MirrorPad(const torch::Tensor& y, int64_t r) {
  return y.size(2) > r && y.size(3) > r ? torch::reflection_pad2d(y, {r, r, r, r})
                                        : torch::replication_pad2d(y, {r, r, r, r});
}

torch::Tensor SmoothMap(const torch::Tensor& y, const torch::Tensor& row) {
  const int64_t r = (row.size(3) - 1) / 2;
  return torch::conv2d(torch::conv2d(MirrorPad(y, r), row), row.view({1, 1, -1, 1}));
}

[[noreturn]] void RethrowTorch(const std::string& context) {
  try {
    throw;
  } catch (const Error&) {
    RethrowWithContext(context);
  } catch (const c10::Error& e) {
    // what() carries a C++ backtrace after the message: one line for the user.
    std::string message = e.what_without_backtrace();
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    for (char& ch : message)
      if (ch == '\n') ch = ' ';
    throw IoError(context + ": " + message);
  } catch (const std::exception& e) {
    throw IoError(context + ": " + e.what());
  }
}

}  // namespace

struct CnnModel::Impl {
  CnnModelMeta meta;
  std::shared_ptr<NetImpl> net;
  std::unique_ptr<torch::optim::Adam> adam;
  torch::Device device = torch::kCPU;
  // Weight averaging: shadow copies of the parameters and buffers, in parameters() / buffers()
  // order, and the number of steps averaged.
  double ema_decay = 0;
  std::vector<torch::Tensor> ema_params, ema_buffers;
  int64_t ema_steps = 0;

  // f(live, shadow) for every parameter and buffer (without autograd).
  template <class F>
  void ForEachAveraged(F f) {
    torch::NoGradGuard g;
    auto params = net->parameters();
    for (std::size_t i = 0; i < params.size(); ++i) f(params[i], ema_params[i]);
    auto buffers = net->buffers();
    for (std::size_t i = 0; i < buffers.size(); ++i) f(buffers[i], ema_buffers[i]);
  }
  void InitAverage() {
    torch::NoGradGuard g;
    ema_params.clear();
    ema_buffers.clear();
    for (const auto& p : net->parameters()) ema_params.push_back(p.detach().clone());
    for (const auto& b : net->buffers()) ema_buffers.push_back(b.detach().clone());
    ema_steps = 0;
  }
  void UpdateAverage() {
    const double d = std::min(ema_decay, (1.0 + ema_steps) / (10.0 + ema_steps));
    ForEachAveraged([d](torch::Tensor& live, torch::Tensor& avg) { avg.mul_(d).add_(live.detach(), 1 - d); });
    ++ema_steps;
  }

  // Training's layout: meta.channels_last (NCHW by default, measured faster for training steps).
  torch::MemoryFormat TrainingFormat() const {
    return meta.channels_last && device.is_cpu() ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
  }
  // Inference's layout: channels-last on the CPU whatever the training layout, since with batch
  // norm folded oneDNN's channels-last convolutions are faster there (benchmarks/cnn: resnet10 with
  // 4-fold augmentation 0.63 -> 0.55 s, U-Net 0.27 -> 0.22 s per 4096² micrograph; resnet8 equal).
  bool inference_channels_last = true;
  torch::MemoryFormat InferenceFormat() const {
    return inference_channels_last && device.is_cpu() ? torch::MemoryFormat::ChannelsLast
                                                      : torch::MemoryFormat::Contiguous;
  }
  torch::Tensor Layout(torch::Tensor t) const { return t.contiguous(TrainingFormat()); }
  void ApplyLayout() {
    torch::NoGradGuard g;
    for (auto& p : net->parameters())
      if (p.dim() == 4) p.set_data(Layout(p.data()));
  }
  int Multiple() const { return meta.architecture == "unet" ? 4 : 1; }

  // One pass; h, w are padded here to the size multiple and the result cropped back.
  torch::Tensor Run(const torch::Tensor& x) {
    const int m = Multiple();
    const int64_t h = x.size(2), w = x.size(3);
    auto xp = torch::constant_pad_nd(x, {0, (m - w % m) % m, 0, (m - h % m) % m}, 0);
    auto y = net->forward(xp.to(device).contiguous(net->Fused() ? InferenceFormat() : TrainingFormat()));
    return y.slice(2, 0, h).slice(3, 0, w);
  }

  // Inference: mean of Run over meta.test_time_augmentation dihedral transforms of x (each
  // output transformed back), so the map is exactly equivariant under those transforms.
  torch::Tensor Infer(const torch::Tensor& x) {
    const int n = meta.test_time_augmentation;
    torch::Tensor sum;
    for (int t = 0; t < n; ++t) {
      const int k = t % 4;
      const bool flip = t >= 4;
      auto xi = flip ? torch::flip(x, {3}) : x;
      if (k) xi = torch::rot90(xi, k, {2, 3});
      auto y = Run(xi);
      if (k) y = torch::rot90(y, -k, {2, 3});
      if (flip) y = torch::flip(y, {3});
      sum = t == 0 ? y : sum + y;
    }
    return n > 1 ? sum / double(n) : sum;
  }
};

std::vector<std::string> CnnArchitectures() { return {"resnet8", "resnet10", "unet"}; }

std::string CnnModelMeta::ToJson() const {
  nlohmann::json j = {{"format", "emkit-cnn-picker-1"},
                      {"architecture", architecture},
                      {"width", width},
                      {"working_pixel_size", working_pixel_size},
                      {"diameter_angstrom", diameter_angstrom},
                      {"highpass_angstrom", highpass_angstrom},
                      {"robust_normalise", robust_normalise},
                      {"local_normalise_angstrom", local_normalise_angstrom},
                      {"invert", invert},
                      {"default_threshold", default_threshold},
                      {"channels_last", channels_last},
                      {"test_time_augmentation", test_time_augmentation},
                      {"score_smoothing_px", score_smoothing_px},
                      {"training", nlohmann::json::parse(training_json.empty() ? "{}" : training_json)}};
  return j.dump();
}

CnnModelMeta CnnModelMeta::FromJson(const std::string& text, const std::string& where) {
  CnnModelMeta m;
  try {
    auto j = nlohmann::json::parse(text);
    m.architecture = j.at("architecture").get<std::string>();
    m.width = j.at("width").get<int>();
    m.working_pixel_size = j.at("working_pixel_size").get<double>();
    m.diameter_angstrom = j.at("diameter_angstrom").get<double>();
    m.highpass_angstrom = j.value("highpass_angstrom", 0.0);
    m.robust_normalise = j.value("robust_normalise", true);
    m.local_normalise_angstrom = j.value("local_normalise_angstrom", 0.0);
    m.invert = j.value("invert", false);
    m.default_threshold = j.value("default_threshold", 0.0);
    m.channels_last = j.value("channels_last", false);
    m.test_time_augmentation = j.value("test_time_augmentation", 1);
    m.score_smoothing_px = j.value("score_smoothing_px", 0.0);
    m.training_json = j.value("training", nlohmann::json::object()).dump();
  } catch (const nlohmann::json::exception& e) {
    throw IoError(where + ": bad model metadata: " + e.what());
  }
  m.Check();
  return m;
}

void CnnModelMeta::Check() const {
  const auto a = CnnArchitectures();
  if (std::find(a.begin(), a.end(), architecture) == a.end())
    throw InvalidInputError("architecture '" + architecture + "': expected resnet8, resnet10 or unet");
  if (width < 1 || width > 1024) throw InvalidInputError("width " + std::to_string(width) + ": expected 1..1024");
  if (working_pixel_size < 0) throw InvalidInputError("working_pixel_size must be >= 0");
  if (diameter_angstrom < 0) throw InvalidInputError("diameter must be >= 0");
  if (test_time_augmentation != 1 && test_time_augmentation != 4 && test_time_augmentation != 8)
    throw InvalidInputError("test_time_augmentation " + std::to_string(test_time_augmentation) +
                            ": expected 1, 4 or 8");
  if (!(score_smoothing_px >= 0 && score_smoothing_px <= 100))
    throw InvalidInputError("score_smoothing_px " + std::to_string(score_smoothing_px) + ": expected 0..100");
  if (test_time_augmentation > 1 && architecture == "unet")
    throw InvalidInputError(
        "test_time_augmentation needs a ResNet (the U-Net's pooling grid is not rotation-symmetric)");
}

CnnModel::CnnModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CnnModel::CnnModel(CnnModel&&) noexcept = default;
CnnModel& CnnModel::operator=(CnnModel&&) noexcept = default;
CnnModel::~CnnModel() = default;

CnnModel CnnModel::Create(const CnnModelMeta& meta, uint64_t seed) {
  torch::manual_seed(seed);
  return Build(meta);
}

CnnModel CnnModel::Build(const CnnModelMeta& meta) {
  meta.Check();
  auto impl = std::make_unique<Impl>();
  impl->meta = meta;
  impl->net = std::make_shared<NetImpl>(meta.architecture, meta.width);
  impl->ApplyLayout();
  return CnnModel(std::move(impl));
}

const CnnModelMeta& CnnModel::meta() const { return impl_->meta; }
CnnModelMeta& CnnModel::mutable_meta() { return impl_->meta; }
int CnnModel::ReceptiveField() const { return AnalyticReceptiveField(impl_->meta.architecture, impl_->net->specs); }
int CnnModel::SizeMultiple() const { return impl_->Multiple(); }
int CnnModel::Margin() const {
  const int m = SizeMultiple();
  return ((ReceptiveField() / 2 + 1 + m - 1) / m) * m;
}
int64_t CnnModel::NumParameters() const {
  int64_t n = 0;
  for (const auto& p : impl_->net->parameters()) n += p.numel();
  return n;
}

std::vector<float> CnnModel::ParameterValues() const {
  std::vector<float> v;
  for (const auto& p : impl_->net->parameters()) {
    auto c = p.detach().to(torch::kCPU).contiguous();
    v.insert(v.end(), c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  }
  return v;
}

void CnnModel::SetDevice(const DeviceSpec& d) {
  // Adam's moment estimates live where the parameters were when it stepped: moving them is not
  // supported, so the device is chosen before ConfigureOptimiser.
  EMKIT_CHECK(!impl_->adam, "SetDevice must come before ConfigureOptimiser");
  impl_->device = d.cuda ? torch::Device(torch::kCUDA, d.index) : torch::Device(torch::kCPU);
  impl_->net->to(impl_->device);
  impl_->ApplyLayout();
  for (auto& t : impl_->ema_params) t = t.to(impl_->device);
  for (auto& t : impl_->ema_buffers) t = t.to(impl_->device);
}

void CnnModel::SetInferenceChannelsLast(bool channels_last) { impl_->inference_channels_last = channels_last; }

Image CnnModel::Predict(const Image& image, int tile) const {
  c10::InferenceMode guard;
  impl_->net->eval();
  impl_->net->FuseBatchNorm(impl_->InferenceFormat());
  struct Unfuse {
    NetImpl& net;
    ~Unfuse() { net.Unfuse(); }
  } unfuse{*impl_->net};
  const int nx = image.nx(), ny = image.ny();
  auto full = torch::from_blob(const_cast<float*>(image.data()), {1, 1, ny, nx}, torch::kFloat32);
  Image out(nx, ny);
  auto copy_out = [&](const torch::Tensor& t, int x0, int y0) {
    auto c = t.to(torch::kCPU).to(torch::kFloat32).contiguous();
    const float* p = c.data_ptr<float>();
    const int h = static_cast<int>(c.size(2)), w = static_cast<int>(c.size(3));
    for (int y = 0; y < h; ++y) std::copy(p + std::size_t(y) * w, p + std::size_t(y + 1) * w, &out(x0, y0 + y));
  };
  try {
    const int m = SizeMultiple();
    // The micrograph is mirrored by `margin` on every side (as training patches are), so edge
    // pixels see image-like context rather than zeros; margins cover half the receptive field
    // and keep tile origins on the pooling grid.
    const int margin = Margin();
    auto padded = MirrorPad(full, margin);
    const int core = ((tile - 2 * margin) / m) * m;
    if (tile <= 0 || (nx <= tile && ny <= tile) || core < m) {
      copy_out(impl_->Infer(padded).slice(2, margin, margin + ny).slice(3, margin, margin + nx), 0, 0);
    } else {
      // Tile (x0, y0) of the output reads padded rows [y0, y0 + core + 2 margin).
      for (int y0 = 0; y0 < ny; y0 += core) {
        for (int x0 = 0; x0 < nx; x0 += core) {
          const int yb = std::min(ny + 2 * margin, y0 + core + 2 * margin);
          const int xb = std::min(nx + 2 * margin, x0 + core + 2 * margin);
          auto r = impl_->Infer(padded.slice(2, y0, yb).slice(3, x0, xb));
          const int ye = std::min(ny, y0 + core), xe = std::min(nx, x0 + core);
          copy_out(r.slice(2, margin, margin + ye - y0).slice(3, margin, margin + xe - x0), x0, y0);
        }
      }
    }
    // After stitching, so that tiles need no extra overlap for it.
    if (impl_->meta.score_smoothing_px > 0) {
      auto t = torch::from_blob(out.data(), {1, 1, ny, nx}, torch::kFloat32);
      t.copy_(SmoothMap(t, GaussianRow(impl_->meta.score_smoothing_px)));
    }
  } catch (...) {
    RethrowTorch("CNN inference");
  }
  return out;
}

void CnnModel::Save(const std::string& path) const {
  WriteAtomically(path, [&](const std::string& tmp) {
    torch::serialize::OutputArchive a;
    for (const auto& p : impl_->net->named_parameters()) a.write(p.key(), p.value().contiguous().to(torch::kCPU));
    for (const auto& b : impl_->net->named_buffers()) a.write(b.key(), b.value().contiguous().to(torch::kCPU), true);
    a.write("emkit_meta", c10::IValue(impl_->meta.ToJson()));
    a.save_to(tmp);
  });
}

namespace {
void ReadWeights(torch::serialize::InputArchive& a, NetImpl& net) {
  torch::NoGradGuard g;
  for (auto& p : net.named_parameters()) {
    torch::Tensor t;
    a.read(p.key(), t);
    if (!t.sizes().equals(p.value().sizes())) throw IoError("tensor " + p.key() + " has the wrong shape");
    p.value().copy_(t);
  }
  for (auto& b : net.named_buffers()) {
    torch::Tensor t;
    a.read(b.key(), t, true);
    b.value().copy_(t);
  }
}
}  // namespace

CnnModel CnnModel::Load(const std::string& path, const DeviceSpec& device) {
  if (!FileExists(path)) throw IoError(path + ": model file not found");
  try {
    torch::serialize::InputArchive a;
    a.load_from(path, torch::Device(torch::kCPU));  // a CUDA-written file on a CPU-only machine too
    c10::IValue meta_value;
    if (!a.try_read("emkit_meta", meta_value) || !meta_value.isString())
      throw IoError(path + ": not an emkit CNN model (no emkit_meta)");
    auto meta = CnnModelMeta::FromJson(meta_value.toStringRef(), path);
    CnnModel model = Build(meta);
    ReadWeights(a, *model.impl_->net);
    model.SetDevice(device);
    return model;
  } catch (...) {
    RethrowTorch("reading model " + path);
  }
}

void CnnModel::ExportTorchScript(const std::string& path) const {
  try {
    torch::jit::Module m("EmkitPicker");
    for (const auto& p : impl_->net->named_parameters())
      m.register_parameter(p.key(), p.value().detach().to(torch::kCPU).contiguous().clone(), false);
    for (const auto& b : impl_->net->named_buffers())
      m.register_buffer(b.key(), b.value().detach().to(torch::kCPU).contiguous().clone());
    m.register_attribute("emkit_meta", c10::StringType::get(), c10::IValue(impl_->meta.ToJson()));
    int smooth_radius = 0;
    if (impl_->meta.score_smoothing_px > 0) {
      auto row = GaussianRow(impl_->meta.score_smoothing_px);
      smooth_radius = static_cast<int>((row.size(3) - 1) / 2);
      m.register_buffer("score_kernel_row", row);
      m.register_buffer("score_kernel_column", row.view({1, 1, -1, 1}).contiguous());
    }
    m.define(impl_->net->ScriptSource(SizeMultiple(), Margin(), impl_->meta.test_time_augmentation, smooth_radius));
    m.eval();
    WriteAtomically(path, [&](const std::string& tmp) { m.save(tmp, {{"emkit.json", impl_->meta.ToJson()}}); });
  } catch (...) {
    RethrowTorch("exporting TorchScript to " + path);
  }
}

Image CnnModel::RunTorchScript(const std::string& path, const Image& image) {
  try {
    c10::InferenceMode guard;
    auto m = torch::jit::load(path);
    m.eval();
    auto x = torch::from_blob(const_cast<float*>(image.data()), {1, 1, image.ny(), image.nx()}, torch::kFloat32);
    auto y = m.forward({x}).toTensor().contiguous();
    Image out(image.nx(), image.ny());
    std::copy(y.data_ptr<float>(), y.data_ptr<float>() + out.size(), out.data());
    return out;
  } catch (...) {
    RethrowTorch("running TorchScript " + path);
  }
}

void CnnModel::ConfigureOptimiser(double learning_rate, double weight_decay) {
  impl_->adam = std::make_unique<torch::optim::Adam>(
      impl_->net->parameters(), torch::optim::AdamOptions(learning_rate).weight_decay(weight_decay));
}

void CnnModel::SetLearningRate(double lr) {
  EMKIT_CHECK(impl_->adam, "ConfigureOptimiser first");
  for (auto& g : impl_->adam->param_groups()) static_cast<torch::optim::AdamOptions&>(g.options()).lr(lr);
}

double CnnModel::TrainStep(const CnnBatch& b, const CnnLossOptions& loss, int margin) {
  EMKIT_CHECK(impl_->adam, "ConfigureOptimiser first");
  EMKIT_CHECK(b.images.size() == std::size_t(b.n) * b.h * b.w && b.labels.size() == b.images.size() &&
                  (b.penalty_mask.empty() || b.penalty_mask.size() == b.images.size()),
              "batch shape");
  EMKIT_CHECK(2 * margin < std::min(b.h, b.w), "margin too large for the patch");
  try {
    impl_->net->train();
    auto opt = torch::TensorOptions().dtype(torch::kFloat32);
    auto x = torch::from_blob(const_cast<float*>(b.images.data()), {b.n, 1, b.h, b.w}, opt);
    auto y = torch::from_blob(const_cast<float*>(b.labels.data()), {b.n, 1, b.h, b.w}, opt).to(impl_->device);
    torch::Tensor mask;
    if (!b.penalty_mask.empty())
      mask = torch::from_blob(const_cast<float*>(b.penalty_mask.data()), {b.n, 1, b.h, b.w}, opt).to(impl_->device);
    auto crop = [&](const torch::Tensor& t) { return t.slice(2, margin, b.h - margin).slice(3, margin, b.w - margin); };
    auto logits = impl_->Run(x);
    auto l = LossTensor(crop(logits), crop(y), mask.defined() ? crop(mask) : mask, loss);
    impl_->adam->zero_grad();
    l.backward();
    impl_->adam->step();
    if (impl_->ema_decay > 0) impl_->UpdateAverage();
    return l.item<double>();
  } catch (...) {
    RethrowTorch("training step");
  }
}

void CnnModel::EnableWeightAveraging(double decay) {
  if (!(decay >= 0 && decay < 1)) throw InvalidInputError("weight averaging decay must be in [0, 1)");
  impl_->ema_decay = decay;
  if (decay > 0)
    impl_->InitAverage();
  else
    impl_->ema_params.clear(), impl_->ema_buffers.clear();
}

bool CnnModel::HasAveragedWeights() const { return impl_->ema_decay > 0 && !impl_->ema_params.empty(); }

void CnnModel::SwapAveragedWeights() {
  EMKIT_CHECK(HasAveragedWeights(), "weight averaging is off");
  impl_->ForEachAveraged([](torch::Tensor& live, torch::Tensor& avg) {
    auto t = live.detach().clone();
    live.detach().copy_(avg);
    avg.copy_(t);
  });
}

void CnnModel::SaveCheckpoint(const std::string& path, const std::string& state_json) const {
  EMKIT_CHECK(impl_->adam, "ConfigureOptimiser first");
  WriteAtomically(path, [&](const std::string& tmp) {
    torch::serialize::OutputArchive a, o;
    for (const auto& p : impl_->net->named_parameters()) a.write(p.key(), p.value().contiguous().to(torch::kCPU));
    for (const auto& b : impl_->net->named_buffers()) a.write(b.key(), b.value().contiguous().to(torch::kCPU), true);
    if (HasAveragedWeights()) {
      for (std::size_t i = 0; i < impl_->ema_params.size(); ++i)
        a.write("ema_p" + std::to_string(i), impl_->ema_params[i].contiguous().to(torch::kCPU));
      for (std::size_t i = 0; i < impl_->ema_buffers.size(); ++i)
        a.write("ema_b" + std::to_string(i), impl_->ema_buffers[i].contiguous().to(torch::kCPU), true);
      a.write("ema_steps", c10::IValue(impl_->ema_steps));
    }
    a.write("emkit_meta", c10::IValue(impl_->meta.ToJson()));
    a.write("emkit_state", c10::IValue(state_json));
    impl_->adam->save(o);
    a.write("optimiser", o);
    a.save_to(tmp);
  });
}

std::string CnnModel::LoadCheckpoint(const std::string& path) {
  EMKIT_CHECK(impl_->adam, "ConfigureOptimiser first");
  if (!FileExists(path)) throw IoError(path + ": checkpoint not found");
  try {
    torch::serialize::InputArchive a, o;
    // Onto this model's device: Adam's state is saved where it lived, and a checkpoint written on
    // one device may be resumed on another.
    a.load_from(path, impl_->device);
    ReadWeights(a, *impl_->net);
    impl_->ApplyLayout();
    a.read("optimiser", o);
    impl_->adam->load(o);
    if (HasAveragedWeights()) {
      c10::IValue steps;
      if (!a.try_read("ema_steps", steps) || !steps.isInt())
        throw IoError(path + ": no averaged weights (written without weight averaging)");
      torch::NoGradGuard g;
      for (std::size_t i = 0; i < impl_->ema_params.size(); ++i) {
        torch::Tensor t;
        a.read("ema_p" + std::to_string(i), t);
        impl_->ema_params[i].copy_(t);
      }
      for (std::size_t i = 0; i < impl_->ema_buffers.size(); ++i) {
        torch::Tensor t;
        a.read("ema_b" + std::to_string(i), t, true);
        impl_->ema_buffers[i].copy_(t);
      }
      impl_->ema_steps = steps.toInt();
    }
    c10::IValue state;
    if (!a.try_read("emkit_state", state) || !state.isString()) throw IoError(path + ": no training state");
    return state.toStringRef();
  } catch (...) {
    RethrowTorch("reading checkpoint " + path);
  }
}

std::string CnnModel::ReadCheckpointState(const std::string& path) {
  if (!FileExists(path)) throw IoError(path + ": checkpoint not found");
  try {
    torch::serialize::InputArchive a;
    a.load_from(path, torch::Device(torch::kCPU));
    c10::IValue state;
    if (!a.try_read("emkit_state", state) || !state.isString()) throw IoError(path + ": no training state");
    return state.toStringRef();
  } catch (...) {
    RethrowTorch("reading checkpoint " + path);
  }
}

double CnnLoss(const std::vector<float>& logits, const std::vector<float>& labels,
               const std::vector<float>& penalty_mask, const CnnLossOptions& loss) {
  EMKIT_CHECK(logits.size() == labels.size() && (penalty_mask.empty() || penalty_mask.size() == logits.size()),
              "logits, labels and penalty mask differ in size");
  const int64_t n = static_cast<int64_t>(logits.size());
  auto z = torch::from_blob(const_cast<float*>(logits.data()), {n}, torch::kFloat32);
  auto y = torch::from_blob(const_cast<float*>(labels.data()), {n}, torch::kFloat32);
  torch::Tensor m;
  if (!penalty_mask.empty()) m = torch::from_blob(const_cast<float*>(penalty_mask.data()), {n}, torch::kFloat32);
  return LossTensor(z, y, m, loss).item<double>();
}

void MakeTorchDeterministic(uint64_t seed) {
  // cuBLAS is deterministic only with a fixed workspace size, read when it first runs (CUDA only).
  setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", 0);
  torch::manual_seed(seed);
  at::globalContext().setDeterministicAlgorithms(true, false);
}

}  // namespace emkit
