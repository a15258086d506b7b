// TensorBoard event files: TFRecord framing (length, masked CRC-32C of the length, data, masked
// CRC-32C of the data) around protobuf `Event` messages holding scalar and image summaries. The few
// protobuf fields needed are encoded by hand with their public field numbers
// (tensorflow/core/util/event.proto, tensorflow/core/framework/summary.proto).
#pragma once
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "ddpm/base/crc.h"

namespace ddpm {

// The masked CRC-32C that TFRecord stores.
uint32_t masked_crc32c(const uint8_t* data, size_t size);

// One framed record.
std::vector<uint8_t> tfrecord(const std::vector<uint8_t>& data);
// Serialized Event messages.
std::vector<uint8_t> event_file_version(double wall_time);
std::vector<uint8_t> event_scalar(double wall_time, int64_t step, const std::string& tag,
                                  float value);
std::vector<uint8_t> event_image(double wall_time, int64_t step, const std::string& tag, int height,
                                 int width, int channels, const std::vector<uint8_t>& png);

// Appends events to <dir>/events.out.tfevents.<seconds>.<host> (a new file per writer, as
// TensorBoard expects; it reads every file of the folder). Each event is flushed when written.
class EventWriter {
 public:
  explicit EventWriter(const std::string& dir);
  void scalar(int64_t step, const std::string& tag, double value);
  void image(int64_t step, const std::string& tag, int height, int width, int channels,
             const std::vector<uint8_t>& png);
  const std::string& path() const { return path_; }

 private:
  void write(const std::vector<uint8_t>& event);
  std::string path_;
  std::ofstream out_;
};

}  // namespace ddpm
