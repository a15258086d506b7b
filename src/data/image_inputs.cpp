#include "ddpm/data/image_inputs.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "ddpm/base/error.h"
#include "ddpm/data/image_folder.h"
#include "ddpm/data/image_io.h"

namespace ddpm {
namespace fs = std::filesystem;

namespace {

std::string size_text(int width, int height) {
  return std::to_string(width) + "x" + std::to_string(height);
}

// The image files directly in `folder`, sorted.
std::vector<std::string> folder_images(const std::string& folder, const std::string& flag) {
  std::vector<std::string> files;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_regular_file(type_ec) && is_image_file(it->path().string())) {
      files.push_back(it->path().string());
    }
  }
  if (ec) throw Error(flag + " " + folder + ": cannot list (" + ec.message() + ")");
  if (files.empty()) {
    throw Error(flag + " " + folder + ": no image files in this folder (PNG, JPEG, BMP, ...)");
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> input_files(const std::string& path, const std::string& flag) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return folder_images(path, flag);
  if (!fs::exists(path, ec)) throw Error(flag + " " + path + ": no such file or folder");
  return {path};
}

torch::Tensor bytes_tensor(std::vector<uint8_t> bytes, int64_t channels, int64_t size) {
  return torch::from_blob(bytes.data(), {channels, size, size}, torch::kUInt8).clone();
}

// The mask of each input: `path` itself for all of them, or the file of the input's name in the
// folder `path` (listed once).
std::vector<std::string> mask_files(const std::string& path, const ImageInputs& inputs,
                                    const std::string& flag) {
  const auto files = input_files(path, flag);
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return std::vector<std::string>(inputs.paths.size(), path);
  std::map<std::string, std::string> by_name;
  for (const auto& file : files) by_name.emplace(file_stem(file), file);
  std::vector<std::string> masks;
  for (const auto& input : inputs.paths) {
    auto it = by_name.find(file_stem(input));
    if (it == by_name.end()) {
      throw Error(flag + " " + path + ": no mask named " + file_stem(input) + ".* for the input " +
                  input + " (a mask folder holds one mask per input, under the input's name)");
    }
    masks.push_back(it->second);
  }
  return masks;
}

// Outputs and masks are matched to inputs by name: two inputs of one name would share them.
void check_unique_names(std::vector<std::string> paths, const std::string& flag) {
  std::sort(paths.begin(), paths.end(),
            [](const std::string& a, const std::string& b) { return file_stem(a) < file_stem(b); });
  for (size_t i = 1; i < paths.size(); ++i) {
    if (file_stem(paths[i]) == file_stem(paths[i - 1])) {
      throw Error(flag + ": " + paths[i - 1] + " and " + paths[i] +
                  " share a name; outputs and masks are matched by name, so rename one");
    }
  }
}

}  // namespace

std::string file_stem(const std::string& path) { return fs::path(path).stem().string(); }

std::vector<std::string> input_names(const ImageInputs& inputs) {
  std::vector<std::string> names;
  for (const auto& path : inputs.paths) names.push_back(file_stem(path));
  return names;
}

ImageInputs load_image_inputs(const std::string& path, int64_t size, int64_t channels,
                              const std::string& flag) {
  ImageInputs inputs;
  std::vector<torch::Tensor> images;
  for (const auto& file : input_files(path, flag)) {
    const Image image = decode_image_file(file);
    images.push_back(bytes_tensor(model_pixels(image, size, channels, file), channels, size));
    inputs.paths.push_back(file);
    inputs.widths.push_back(image.width);
    inputs.heights.push_back(image.height);
  }
  inputs.images = torch::stack(images);
  check_unique_names(inputs.paths, flag);
  return inputs;
}

torch::Tensor load_keep_masks(const std::string& path, const ImageInputs& inputs, int64_t size,
                              const std::string& flag) {
  const auto files = mask_files(path, inputs, flag);
  std::vector<torch::Tensor> masks;
  for (int64_t i = 0; i < inputs.size(); ++i) {
    const std::string& file = files[static_cast<size_t>(i)];
    const Image mask = decode_image_file(file);
    if (mask.width != inputs.widths[i] || mask.height != inputs.heights[i]) {
      throw Error(flag + " " + file + ": the mask is " + size_text(mask.width, mask.height) +
                  " but its image " + inputs.paths[i] + " is " +
                  size_text(inputs.widths[i], inputs.heights[i]) +
                  "; masks are not resized: give one of the image's size");
    }
    masks.push_back(bytes_tensor(model_pixels(mask, size, 1, file), 1, size).lt(128));
  }
  return torch::stack(masks);
}

}  // namespace ddpm
