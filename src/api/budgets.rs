//! `juesuan.v1.Budgets` and `juesuan.v1.Events`: budget systems put budgets and follow what happens.

use std::pin::Pin;

use tokio_stream::{Stream, StreamExt, wrappers::ReceiverStream};
use tonic::{Request, Response, Status};

use super::{
    convert,
    error::{invalid_argument, principal},
};
use crate::service::budget::Budgets;
use crate::service::events::EventFeed;
use crate::{
    domain::{
        budget::{BudgetCell, StoredBudget},
        error::FieldViolation,
        ids::IdempotencyKey,
    },
    pb,
};

pub struct BudgetsService {
    budgets: Budgets,
}

impl BudgetsService {
    pub fn new(budgets: Budgets) -> BudgetsService {
        BudgetsService { budgets }
    }
}

fn budget_to_pb(budget: &StoredBudget) -> pb::Budget {
    pb::Budget {
        unit_code: budget.unit_code.to_string(),
        fiscal_year: budget.fiscal_year.get(),
        version: budget.version,
        idempotency_key: budget.idempotency_key.clone(),
        put_by: budget.put_by.clone(),
        put_at: Some(convert::timestamp(budget.put_at_ms)),
        figures: budget
            .figures
            .iter()
            .map(|(table, row, column, value)| pb::BudgetFigure {
                table: table.to_owned(),
                row: row.to_owned(),
                column: column.to_owned(),
                value: Some(pb::Decimal {
                    value: value.to_string(),
                }),
            })
            .collect(),
    }
}

#[tonic::async_trait]
impl pb::budgets_server::Budgets for BudgetsService {
    async fn put_budget(
        &self,
        request: Request<pb::PutBudgetRequest>,
    ) -> Result<Response<pb::PutBudgetResponse>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let (unit, year) = convert::unit_and_year(&request.unit_code, request.fiscal_year)
            .map_err(|v| invalid_argument(v, ""))?;
        let key = IdempotencyKey::parse(&request.idempotency_key).map_err(|e| {
            invalid_argument(
                vec![FieldViolation::new("idempotency_key", e.to_string())],
                "",
            )
        })?;
        let cells: Vec<BudgetCell<'_>> = request
            .figures
            .iter()
            .map(|f| BudgetCell {
                table: &f.table,
                row: &f.row,
                column: &f.column,
                value: f.value.as_ref().map(|d| d.value.as_str()),
            })
            .collect();
        let (budget, replayed) = self.budgets.put(&actor, &unit, year, key, &cells).await?;
        Ok(Response::new(pb::PutBudgetResponse {
            budget: Some(budget_to_pb(&budget)),
            replayed,
        }))
    }

    async fn get_budget(
        &self,
        request: Request<pb::GetBudgetRequest>,
    ) -> Result<Response<pb::GetBudgetResponse>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let (unit, year) = convert::unit_and_year(&request.unit_code, request.fiscal_year)
            .map_err(|v| invalid_argument(v, ""))?;
        let version = (request.version != 0).then_some(request.version);
        let budget = self.budgets.get(&actor, &unit, year, version).await?;
        Ok(Response::new(pb::GetBudgetResponse {
            budget: Some(budget_to_pb(&budget)),
        }))
    }
}

pub struct EventsService {
    feed: EventFeed,
}

impl EventsService {
    pub fn new(feed: EventFeed) -> EventsService {
        EventsService { feed }
    }
}

#[tonic::async_trait]
impl pb::events_server::Events for EventsService {
    type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchEvent, Status>> + Send>>;

    async fn watch(
        &self,
        request: Request<pb::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let node =
            convert::code(&request.node_code, "node_code").map_err(|v| invalid_argument(v, ""))?;
        let year = convert::fiscal_year(request.fiscal_year, "fiscal_year")
            .map_err(|v| invalid_argument(v, ""))?;
        let events = self
            .feed
            .watch(&actor, &node, year, request.after_cursor)
            .await?;
        let stream = ReceiverStream::new(events).map(|item| {
            item.map(|watched| pb::WatchEvent {
                cursor: watched.event.seq,
                event: Some(convert::event_to_pb(&watched.event)),
                consolidation_changed: watched.consolidation_changed,
            })
            .map_err(Status::from)
        });
        Ok(Response::new(Box::pin(stream)))
    }
}
