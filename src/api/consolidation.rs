//! `juesuan.v1.Consolidation`.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::{
    convert,
    error::{invalid_argument, principal},
};
use crate::pb;
use crate::service::consolidation::{CellAddress, Consolidations};

pub struct ConsolidationService {
    consolidations: Arc<Consolidations>,
}

impl ConsolidationService {
    pub fn new(consolidations: Arc<Consolidations>) -> ConsolidationService {
        ConsolidationService { consolidations }
    }
}

fn node_and_year(
    code: &str,
    year: u32,
) -> Result<(crate::domain::ids::UnitCode, crate::domain::ids::FiscalYear), Status> {
    let code = convert::code(code, "node_code").map_err(|v| invalid_argument(v, ""))?;
    let year = convert::fiscal_year(year, "fiscal_year").map_err(|v| invalid_argument(v, ""))?;
    Ok((code, year))
}

#[tonic::async_trait]
impl pb::consolidation_server::Consolidation for ConsolidationService {
    async fn get_consolidated(
        &self,
        request: Request<pb::GetConsolidatedRequest>,
    ) -> Result<Response<pb::ConsolidatedReport>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let (node, year) = node_and_year(&request.node_code, request.fiscal_year)?;
        let unit =
            convert::amount_unit(request.amount_unit).map_err(|v| invalid_argument(v, ""))?;
        let view = self
            .consolidations
            .consolidated(&actor, &node, year, &request.tables, unit)
            .await?;
        Ok(Response::new(convert::consolidated_to_pb(&view)))
    }

    async fn explain_cell(
        &self,
        request: Request<pb::ExplainCellRequest>,
    ) -> Result<Response<pb::CellExplanation>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let (node, year) = node_and_year(&request.node_code, request.fiscal_year)?;
        let unit =
            convert::amount_unit(request.amount_unit).map_err(|v| invalid_argument(v, ""))?;
        let explanation = self
            .consolidations
            .explain(
                &actor,
                &node,
                year,
                &CellAddress {
                    table: &request.table,
                    row: &request.row,
                    column: &request.column,
                },
                unit,
            )
            .await?;
        Ok(Response::new(convert::explanation_to_pb(&explanation)))
    }

    async fn get_completeness(
        &self,
        request: Request<pb::GetCompletenessRequest>,
    ) -> Result<Response<pb::CompletenessReport>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let (node, year) = node_and_year(&request.node_code, request.fiscal_year)?;
        let view = self
            .consolidations
            .completeness(&actor, &node, year)
            .await?;
        Ok(Response::new(convert::completeness_to_pb(&view)))
    }

    async fn compare_reported(
        &self,
        request: Request<pb::CompareReportedRequest>,
    ) -> Result<Response<pb::CompareReportedResponse>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let (node, year) = node_and_year(&request.node_code, request.fiscal_year)?;
        let (version, report) = self
            .consolidations
            .compare_reported(&actor, &node, year)
            .await?;
        Ok(Response::new(pb::CompareReportedResponse {
            reported_version: version,
            report: Some(convert::report_to_pb(&report)),
        }))
    }
}
