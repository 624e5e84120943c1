// job_status.hpp: the one list of a job's states and their names.
//
// The names are the HTTP API's ("status" of a job object, the ?status=
// filter), the admin CLI's, and what the stores keep; every spelling of
// them goes through to_string()/parse_job_status() here.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace mlgate {

enum class JobStatus { Pending, Running, Completed, Failed, Canceled };

inline constexpr std::array<JobStatus, 5> kJobStatuses = {
    JobStatus::Pending, JobStatus::Running, JobStatus::Completed, JobStatus::Failed,
    JobStatus::Canceled};

// "pending", "running", "completed", "failed", "canceled".
const char* to_string(JobStatus s);
// The status named `name` exactly, or nullopt.
std::optional<JobStatus> parse_job_status(std::string_view name);
// Completed, failed and canceled jobs never change again.
inline bool is_finished(JobStatus s) {
  return s == JobStatus::Completed || s == JobStatus::Failed || s == JobStatus::Canceled;
}

}  // namespace mlgate
