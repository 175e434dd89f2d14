//! `juesuan.v1.UnitRegistry`.

use tonic::{Request, Response, Status};

use super::{convert, error::invalid_argument};
use crate::{domain::registry::Registry, pb};

pub struct UnitRegistryService {
    registry: Registry,
}

impl UnitRegistryService {
    pub fn new(registry: Registry) -> UnitRegistryService {
        UnitRegistryService { registry }
    }
}

#[tonic::async_trait]
impl pb::unit_registry_server::UnitRegistry for UnitRegistryService {
    async fn register_unit(
        &self,
        request: Request<pb::RegisterUnitRequest>,
    ) -> Result<Response<pb::RegisterUnitResponse>, Status> {
        let Some(unit) = request.into_inner().unit else {
            return Err(invalid_argument(
                vec![crate::domain::error::FieldViolation::new(
                    "unit",
                    "is required",
                )],
                "",
            ));
        };
        let unit = convert::unit_from_pb(&unit).map_err(|v| invalid_argument(v, "unit"))?;
        let (unit, unchanged) = self.registry.register(unit).await.map_err(|e| {
            // Registry violations are about the unit's fields.
            match e {
                crate::domain::error::DomainError::InvalidArgument(v) => {
                    invalid_argument(v, "unit")
                }
                other => other.into(),
            }
        })?;
        Ok(Response::new(pb::RegisterUnitResponse {
            unit: Some(convert::unit_to_pb(&unit)),
            unchanged,
        }))
    }

    async fn get_unit(
        &self,
        request: Request<pb::GetUnitRequest>,
    ) -> Result<Response<pb::Unit>, Status> {
        let request = request.into_inner();
        let (code, year) =
            convert::unit_and_year(&request.code, request.fiscal_year).map_err(|v| {
                invalid_argument(
                    v.into_iter()
                        .map(|mut x| {
                            if x.field == "unit_code" {
                                x.field = "code".into();
                            }
                            x
                        })
                        .collect(),
                    "",
                )
            })?;
        let unit = self.registry.get(&code, year).await?;
        Ok(Response::new(convert::unit_to_pb(&unit)))
    }

    async fn list_units(
        &self,
        request: Request<pb::ListUnitsRequest>,
    ) -> Result<Response<pb::ListUnitsResponse>, Status> {
        let request = request.into_inner();
        let root = convert::optional_code(&request.root_code, "root_code")
            .map_err(|v| invalid_argument(v, ""))?;
        let year = convert::fiscal_year(request.fiscal_year, "fiscal_year")
            .map_err(|v| invalid_argument(v, ""))?;
        let nodes = self.registry.subtree(root.as_ref(), year).await?;
        Ok(Response::new(pb::ListUnitsResponse {
            units: nodes.iter().map(convert::tree_node_to_pb).collect(),
        }))
    }
}
