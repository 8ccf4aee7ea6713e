#include "models/cnn_picker.h"

#include "core/error.h"

namespace emkit {
namespace {

class CnnScoreMapper : public ScoreMapper {
 public:
  CnnScoreMapper(std::shared_ptr<CnnModel> model, int tile) : model_(std::move(model)), tile_(tile) {}
  Image Score(const PreprocessedMicrograph& micrograph) override { return model_->Predict(micrograph.image, tile_); }
  std::string name() const override { return "cnn"; }

 private:
  std::shared_ptr<CnnModel> model_;
  int tile_;
};

}  // namespace

PreprocessOptions CnnPreprocessOptions(const CnnModelMeta& meta, int threads) {
  PreprocessOptions p;
  p.working_pixel_size = meta.working_pixel_size;
  p.particle_diameter = meta.diameter_angstrom;
  p.highpass_angstrom = meta.highpass_angstrom;
  p.robust_normalise = meta.robust_normalise;
  p.local_normalise_angstrom = meta.local_normalise_angstrom;
  p.invert = meta.invert;
  p.threads = threads;
  return p;
}

std::unique_ptr<ScoreMapper> MakeCnnScoreMapper(std::shared_ptr<CnnModel> model, int tile) {
  return std::make_unique<CnnScoreMapper>(std::move(model), tile);
}

CnnPicker LoadCnnPicker(const std::string& model_path, const std::string& device, int threads, int tile,
                        int test_time_augmentation, double score_smoothing_diameters) {
  const DeviceSpec spec = ParseDevice(device);
  KeepLargeAllocationsInHeap();
  SetTorchThreads(threads);
  auto model = std::make_shared<CnnModel>(CnnModel::Load(model_path, spec));
  // A picking model must say how to bin (a trained one always does; an edited or untrained one may not).
  if (!(model->meta().working_pixel_size > 0 && model->meta().diameter_angstrom > 0))
    throw InvalidInputError(model_path + ": model has no working_pixel_size / diameter_angstrom (> 0 needed to pick)");
  if (test_time_augmentation > 0) {
    model->mutable_meta().test_time_augmentation = test_time_augmentation;
    model->meta().Check();
  }
  if (score_smoothing_diameters >= 0) {
    model->mutable_meta().score_smoothing_px = score_smoothing_diameters * model->meta().DiameterBinnedPx();
    model->meta().Check();
  }
  return MakeCnnPicker(std::move(model), threads, tile);
}

CnnPicker MakeCnnPicker(std::shared_ptr<CnnModel> model, int threads, int tile) {
  CnnPicker p;
  p.preprocess = CnnPreprocessOptions(model->meta(), threads);
  p.default_threshold = model->meta().default_threshold;
  p.diameter_angstrom = model->meta().diameter_angstrom;
  p.receptive_field = model->ReceptiveField();
  p.mapper = MakeCnnScoreMapper(std::move(model), tile);
  return p;
}

}  // namespace emkit
