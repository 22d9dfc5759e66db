//! How much work waits in the task queue, for scaling and alerting: every `BACKLOG_REPORT_SECONDS`
//! the worker asks Temporal for the queue's approximate backlog (count and age of the oldest
//! task, workflow and activity tasks apart) and
//! - sets the gauges `invoice_worker_task_queue_backlog` and
//!   `invoice_worker_task_queue_backlog_age_seconds` (label `type`: `workflow`, `activity`);
//! - with `CLOUDWATCH_EMF_NAMESPACE` set, prints one line of CloudWatch's embedded metric format
//!   to stdout, which the ECS log driver ships and CloudWatch turns into metrics in that namespace,
//!   dimension `TaskQueue`: `BacklogAgeSeconds` (the older of the two kinds, what the worker
//!   service's autoscaling tracks), `WorkflowBacklogCount`, `WorkflowBacklogAgeSeconds`,
//!   `ActivityBacklogCount`, `ActivityBacklogAgeSeconds`. No AWS SDK, no credentials.
//!
//! Every worker reports the same queue; the scaling policy averages them.

use std::time::Duration;

use invoice_activities::metrics::WorkerMetrics;
use serde_json::json;
use temporalio_client::{Client, grpc::WorkflowService, tonic};
use temporalio_common::protos::temporal::api::{
    enums::v1::TaskQueueType,
    taskqueue::v1::TaskQueue,
    workflowservice::v1::{DescribeTaskQueueRequest, DescribeTaskQueueResponse},
};
use tracing::warn;

/// What waits in one kind of task queue.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Backlog {
    /// Approximate number of tasks waiting.
    pub count: i64,
    /// Approximate age of the oldest waiting task (zero when none waits).
    pub age: Duration,
}

/// The queue's backlog, workflow tasks and activity tasks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QueueBacklog {
    pub workflow: Backlog,
    pub activity: Backlog,
}

impl QueueBacklog {
    /// The longest any task has waited, of either kind.
    pub fn oldest(&self) -> Duration {
        self.workflow.age.max(self.activity.age)
    }
}

/// Asks Temporal for the backlog of `task_queue`.
pub async fn describe(
    client: &Client,
    namespace: &str,
    task_queue: &str,
) -> Result<QueueBacklog, tonic::Status> {
    Ok(QueueBacklog {
        workflow: describe_kind(client, namespace, task_queue, TaskQueueType::Workflow).await?,
        activity: describe_kind(client, namespace, task_queue, TaskQueueType::Activity).await?,
    })
}

async fn describe_kind(
    client: &Client,
    namespace: &str,
    task_queue: &str,
    kind: TaskQueueType,
) -> Result<Backlog, tonic::Status> {
    let mut request = tonic::Request::new(DescribeTaskQueueRequest {
        namespace: namespace.to_owned(),
        task_queue: Some(TaskQueue { name: task_queue.to_owned(), ..Default::default() }),
        task_queue_type: kind as i32,
        report_stats: true,
        ..Default::default()
    });
    request.set_timeout(Duration::from_secs(10));
    let mut service = client.clone();
    let response: DescribeTaskQueueResponse =
        WorkflowService::describe_task_queue(&mut service, request).await?.into_inner();
    let stats = response.stats.unwrap_or_default();
    let age = stats.approximate_backlog_age.map_or(Duration::ZERO, |age| {
        Duration::new(
            u64::try_from(age.seconds).unwrap_or(0),
            u32::try_from(age.nanos).unwrap_or(0),
        )
    });
    Ok(Backlog { count: stats.approximate_backlog_count.max(0), age })
}

/// One line of CloudWatch's embedded metric format for `backlog`, stamped `timestamp_ms`.
pub fn emf_line(
    namespace: &str,
    task_queue: &str,
    backlog: &QueueBacklog,
    timestamp_ms: i64,
) -> String {
    let metric = |name: &str, unit: &str| json!({ "Name": name, "Unit": unit });
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [["TaskQueue"]],
                "Metrics": [
                    metric("BacklogAgeSeconds", "Seconds"),
                    metric("WorkflowBacklogCount", "Count"),
                    metric("WorkflowBacklogAgeSeconds", "Seconds"),
                    metric("ActivityBacklogCount", "Count"),
                    metric("ActivityBacklogAgeSeconds", "Seconds"),
                ],
            }],
        },
        "TaskQueue": task_queue,
        "BacklogAgeSeconds": backlog.oldest().as_secs_f64(),
        "WorkflowBacklogCount": backlog.workflow.count,
        "WorkflowBacklogAgeSeconds": backlog.workflow.age.as_secs_f64(),
        "ActivityBacklogCount": backlog.activity.count,
        "ActivityBacklogAgeSeconds": backlog.activity.age.as_secs_f64(),
    })
    .to_string()
}

/// Reports the backlog every `every`, for as long as the worker runs. A failed call is logged
/// and the gauges keep their last value until the next report.
pub async fn report(
    client: Client,
    namespace: String,
    task_queue: String,
    every: Duration,
    emf_namespace: Option<String>,
    metrics: std::sync::Arc<WorkerMetrics>,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match describe(&client, &namespace, &task_queue).await {
            Ok(backlog) => {
                metrics.set_backlog("workflow", backlog.workflow.count, backlog.workflow.age);
                metrics.set_backlog("activity", backlog.activity.count, backlog.activity.age);
                if let Some(emf_namespace) = &emf_namespace {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |since| i64::try_from(since.as_millis()).unwrap_or(i64::MAX));
                    println!("{}", emf_line(emf_namespace, &task_queue, &backlog, now));
                }
            }
            Err(status) => {
                warn!(code = ?status.code(), message = status.message(), "task queue backlog: describing the queue failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emf_line_names_each_metric_and_carries_its_value() {
        let backlog = QueueBacklog {
            workflow: Backlog { count: 3, age: Duration::from_millis(1500) },
            activity: Backlog { count: 7, age: Duration::from_secs(4) },
        };
        let line = emf_line("InvoicePlatform/Temporal", "invoices", &backlog, 1_764_000_000_000);
        let record: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert!(!line.contains('\n'), "one line");
        let directive = &record["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "InvoicePlatform/Temporal");
        assert_eq!(directive["Dimensions"], json!([["TaskQueue"]]));
        assert_eq!(record["_aws"]["Timestamp"], 1_764_000_000_000_i64);
        assert_eq!(record["TaskQueue"], "invoices");
        // Every declared metric has its value at the top level, as the format requires.
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(record[name].is_number(), "{name} has no value: {line}");
        }
        assert_eq!(record["BacklogAgeSeconds"], 4.0);
        assert_eq!(record["WorkflowBacklogCount"], 3);
        assert_eq!(record["ActivityBacklogAgeSeconds"], 4.0);
    }
}
