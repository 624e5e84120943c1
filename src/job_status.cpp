// job_status.cpp: see job_status.hpp.
#include "job_status.hpp"

namespace mlgate {

const char* to_string(JobStatus s) {
  switch (s) {
    case JobStatus::Pending: return "pending";
    case JobStatus::Running: return "running";
    case JobStatus::Completed: return "completed";
    case JobStatus::Failed: return "failed";
    case JobStatus::Canceled: return "canceled";
  }
  return "?";
}

std::optional<JobStatus> parse_job_status(std::string_view name) {
  for (JobStatus s : kJobStatuses)
    if (name == to_string(s)) return s;
  return std::nullopt;
}

}  // namespace mlgate
