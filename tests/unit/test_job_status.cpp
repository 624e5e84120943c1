// Unit tests for job_status.hpp: one list of job states, and every place that
// publishes their names agrees with it.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "job_status.hpp"
#include "routes.hpp"

using namespace mlgate;
using json = nlohmann::json;

TEST_CASE("every status parses back from its name, and nothing else parses") {
  for (JobStatus s : kJobStatuses) CHECK(parse_job_status(to_string(s)) == s);
  CHECK_FALSE(parse_job_status(""));
  CHECK_FALSE(parse_job_status("Pending"));
  CHECK_FALSE(parse_job_status("cancelled"));
  CHECK_FALSE(parse_job_status("pending "));
}

TEST_CASE("only completed, failed and canceled are finished") {
  CHECK_FALSE(is_finished(JobStatus::Pending));
  CHECK_FALSE(is_finished(JobStatus::Running));
  CHECK(is_finished(JobStatus::Completed));
  CHECK(is_finished(JobStatus::Failed));
  CHECK(is_finished(JobStatus::Canceled));
}

TEST_CASE("the OpenAPI document lists exactly the statuses, for the job and the list filter") {
  json want = json::array();
  for (JobStatus s : kJobStatuses) want.push_back(to_string(s));
  json doc = openapi_document("test");
  CHECK(doc["components"]["schemas"]["Job"]["properties"]["status"]["enum"] == want);
  bool found = false;
  for (auto& p : doc["paths"]["/jobs"]["get"]["parameters"])
    if (p["name"] == "status") {
      found = true;
      CHECK(p["schema"]["enum"] == want);
    }
  CHECK(found);
}
