#include "recship/format/saved_model.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "recship/core/file.h"
#include "recship/core/status_macros.h"
#include "recship/format/proto_any.h"

namespace recship {

bool IsSavedModelDirectory(const std::string& dir) {
  std::error_code ec;
  return std::filesystem::is_regular_file(std::filesystem::path(dir) / kSavedModelFilename, ec);
}

absl::StatusOr<tensorflow::SavedModel> ReadSavedModel(const std::string& export_dir) {
  std::string path = (std::filesystem::path(export_dir) / kSavedModelFilename).string();
  RECSHIP_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  tensorflow::SavedModel saved_model;
  if (!saved_model.ParseFromString(bytes)) {
    return absl::DataLossError(absl::StrCat(path, ": not a SavedModel protocol buffer"));
  }
  return saved_model;
}

absl::StatusOr<const tensorflow::MetaGraphDef*> FindMetaGraph(
    const tensorflow::SavedModel& saved_model, const std::vector<std::string>& tags) {
  std::vector<std::string> wanted = tags;
  std::sort(wanted.begin(), wanted.end());
  std::vector<std::string> present;
  for (const auto& meta_graph : saved_model.meta_graphs()) {
    std::vector<std::string> have(meta_graph.meta_info_def().tags().begin(),
                                  meta_graph.meta_info_def().tags().end());
    std::sort(have.begin(), have.end());
    if (have == wanted) return &meta_graph;
    present.push_back(absl::StrCat("{", absl::StrJoin(have, ","), "}"));
  }
  return absl::NotFoundError(absl::StrCat("no meta graph with tags {", absl::StrJoin(wanted, ","),
                                          "}; present: ", absl::StrJoin(present, " ")));
}

absl::StatusOr<SavedModelWriter> SavedModelWriter::Begin(const std::string& export_dir_base,
                                                         int64_t version) {
  if (version < 0) {
    return absl::InvalidArgumentError(absl::StrCat("version must be >= 0, not ", version));
  }
  RECSHIP_ASSIGN_OR_RETURN(StagedDirectory staged,
                           StagedDirectory::Create(export_dir_base, std::to_string(version)));
  return SavedModelWriter(std::move(staged));
}

absl::StatusOr<std::string> SavedModelWriter::Subdirectory(absl::string_view name) {
  std::string dir = (std::filesystem::path(path()) / std::string(name)).string();
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoToStatus(errno, absl::StrCat("creating ", dir));
  }
  return dir;
}

std::string VariablesPrefix(const std::string& dir) {
  return (std::filesystem::path(dir) / kVariablesDirectory / kVariablesFilename).string();
}

std::string SavedModelWriter::variables_prefix() const {
  std::filesystem::path dir = std::filesystem::path(path()) / kVariablesDirectory;
  std::error_code ec;
  std::filesystem::create_directory(dir, ec);  // A failure shows when the bundle is written.
  return (dir / kVariablesFilename).string();
}

absl::Status SavedModelWriter::WriteSavedModel(const tensorflow::SavedModel& saved_model) {
  size_t size = saved_model.ByteSizeLong();
  if (size > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return absl::ResourceExhaustedError(
        absl::StrCat("saved_model.pb would be ", size,
                     " bytes, over protobuf's 2 GiB limit: keep large tensors in variables/"));
  }
  std::string bytes = SerializeDeterministically(saved_model);
  RECSHIP_ASSIGN_OR_RETURN(
      auto file,
      WritableFile::Create((std::filesystem::path(path()) / kSavedModelFilename).string()));
  RECSHIP_RETURN_IF_ERROR(file->Append(bytes));
  return file->Close();
}

absl::Status SavedModelWriter::AddAsset(absl::string_view filename, absl::string_view contents) {
  RECSHIP_ASSIGN_OR_RETURN(std::string dir, Subdirectory(kAssetsDirectory));
  RECSHIP_ASSIGN_OR_RETURN(
      auto file,
      WritableFile::Create((std::filesystem::path(dir) / std::string(filename)).string()));
  RECSHIP_RETURN_IF_ERROR(file->Append(contents));
  return file->Close();
}

absl::Status SavedModelWriter::CopyExtraAsset(absl::string_view filename,
                                              const std::string& source) {
  RECSHIP_ASSIGN_OR_RETURN(std::string dir, Subdirectory(kExtraAssetsDirectory));
  return CopyFile(source, (std::filesystem::path(dir) / std::string(filename)).string());
}

absl::StatusOr<std::string> SavedModelWriter::ExtraAssetPath(absl::string_view dir,
                                                             absl::string_view filename) {
  RECSHIP_ASSIGN_OR_RETURN(std::string extra, Subdirectory(kExtraAssetsDirectory));
  std::string folder = (std::filesystem::path(extra) / std::string(dir)).string();
  if (::mkdir(folder.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoToStatus(errno, absl::StrCat("creating ", folder));
  }
  return (std::filesystem::path(folder) / std::string(filename)).string();
}

}  // namespace recship
