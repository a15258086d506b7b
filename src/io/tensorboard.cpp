#include "ddpm/io/tensorboard.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "ddpm/base/bytes.h"
#include "ddpm/base/error.h"

namespace ddpm {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Protobuf wire format: varints, and (field << 3 | wire type) keys.
void varint(std::vector<uint8_t>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}
void key(std::vector<uint8_t>& out, int field, int wire) {
  varint(out, static_cast<uint64_t>(field << 3 | wire));
}
template <class T>
void fixed(std::vector<uint8_t>& out, int field, T v) {  // wire 1 (double) or 5 (float)
  key(out, field, sizeof(T) == 8 ? 1 : 5);
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}
void bytes_field(std::vector<uint8_t>& out, int field, const uint8_t* data, size_t size) {
  key(out, field, 2);
  varint(out, size);
  out.insert(out.end(), data, data + size);
}
void bytes_field(std::vector<uint8_t>& out, int field, const std::string& s) {
  bytes_field(out, field, reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
void bytes_field(std::vector<uint8_t>& out, int field, const std::vector<uint8_t>& v) {
  bytes_field(out, field, v.data(), v.size());
}
void int_field(std::vector<uint8_t>& out, int field, int64_t v) {
  key(out, field, 0);
  varint(out, static_cast<uint64_t>(v));
}

// Event { double wall_time = 1; int64 step = 2; Summary summary = 5; }
std::vector<uint8_t> event_with_value(double wall_time, int64_t step,
                                      const std::vector<uint8_t>& value) {
  std::vector<uint8_t> summary;
  bytes_field(summary, 1, value);  // Summary { repeated Value value = 1; }
  std::vector<uint8_t> event;
  fixed(event, 1, wall_time);
  int_field(event, 2, step);
  bytes_field(event, 5, summary);
  return event;
}

}  // namespace

uint32_t masked_crc32c(const uint8_t* data, size_t size) {
  const uint32_t crc = crc32c(data, size);
  return ((crc >> 15) | (crc << 17)) + 0xA282EAD8u;
}

std::vector<uint8_t> tfrecord(const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out;
  out.reserve(8 + 4 + data.size() + 4);
  append_le<uint64_t>(out, data.size());
  append_le<uint32_t>(out, masked_crc32c(out.data(), 8));
  out.insert(out.end(), data.begin(), data.end());
  append_le<uint32_t>(out, masked_crc32c(data.data(), data.size()));
  return out;
}

std::vector<uint8_t> event_file_version(double wall_time) {
  std::vector<uint8_t> event;
  fixed(event, 1, wall_time);
  bytes_field(event, 3, std::string("brain.Event:2"));  // string file_version = 3;
  return event;
}

std::vector<uint8_t> event_scalar(double wall_time, int64_t step, const std::string& tag,
                                  float value) {
  std::vector<uint8_t> v;  // Value { string tag = 1; float simple_value = 2; }
  bytes_field(v, 1, tag);
  fixed(v, 2, value);
  return event_with_value(wall_time, step, v);
}

std::vector<uint8_t> event_image(double wall_time, int64_t step, const std::string& tag, int height,
                                 int width, int channels, const std::vector<uint8_t>& png) {
  std::vector<uint8_t> image;  // Image { int32 height = 1; width = 2; colorspace = 3; bytes
                               // encoded_image_string = 4; }
  int_field(image, 1, height);
  int_field(image, 2, width);
  int_field(image, 3, channels);
  bytes_field(image, 4, png);
  std::vector<uint8_t> v;  // Value { string tag = 1; Image image = 4; }
  bytes_field(v, 1, tag);
  bytes_field(v, 4, image);
  return event_with_value(wall_time, step, v);
}

EventWriter::EventWriter(const std::string& dir) {
  char host[256] = "localhost";
  gethostname(host, sizeof(host) - 1);
  const double now = now_seconds();
  path_ = (std::filesystem::path(dir) /
           ("events.out.tfevents." + std::to_string(static_cast<int64_t>(now)) + "." + host + "." +
            std::to_string(getpid())))
              .string();
  out_.open(path_, std::ios::binary | std::ios::app);
  if (!out_)
    throw Error(path_ + ": cannot create the TensorBoard event file (check the run folder)");
  write(event_file_version(now));
}

void EventWriter::write(const std::vector<uint8_t>& event) {
  const auto record = tfrecord(event);
  out_.write(reinterpret_cast<const char*>(record.data()),
             static_cast<std::streamsize>(record.size()));
  out_.flush();
}

void EventWriter::scalar(int64_t step, const std::string& tag, double value) {
  write(event_scalar(now_seconds(), step, tag, static_cast<float>(value)));
}

void EventWriter::image(int64_t step, const std::string& tag, int height, int width, int channels,
                        const std::vector<uint8_t>& png) {
  write(event_image(now_seconds(), step, tag, height, width, channels, png));
}

}  // namespace ddpm
