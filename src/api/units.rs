//! `juesuan.v1.UnitRegistry`.

use tonic::{Request, Response, Status};

use super::{
    convert,
    error::{invalid_argument, principal},
};
use crate::service::error::ServiceError;
use crate::service::registry::Registry;
use crate::{
    domain::{error::FieldViolation, signing},
    pb,
};

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
        let actor = principal(&request)?;
        let Some(unit) = request.into_inner().unit else {
            return Err(invalid_argument(
                vec![FieldViolation::new("unit", "is required")],
                "",
            ));
        };
        let unit = convert::unit_from_pb(&unit).map_err(|v| invalid_argument(v, "unit"))?;
        let (unit, unchanged) =
            self.registry
                .register(&actor, unit)
                .await
                .map_err(|e| match e {
                    // Registry violations are about the unit's fields.
                    ServiceError::InvalidArgument(v) => invalid_argument(v, "unit"),
                    other => other.into(),
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
        let actor = principal(&request)?;
        let request = request.into_inner();
        let code = convert::code(&request.code, "code").map_err(|v| invalid_argument(v, ""))?;
        let year = convert::fiscal_year(request.fiscal_year, "fiscal_year")
            .map_err(|v| invalid_argument(v, ""))?;
        let unit = self.registry.get(&actor, &code, year).await?;
        Ok(Response::new(convert::unit_to_pb(&unit)))
    }

    async fn list_units(
        &self,
        request: Request<pb::ListUnitsRequest>,
    ) -> Result<Response<pb::ListUnitsResponse>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let root = convert::optional_code(&request.root_code, "root_code")
            .map_err(|v| invalid_argument(v, ""))?;
        let year = convert::fiscal_year(request.fiscal_year, "fiscal_year")
            .map_err(|v| invalid_argument(v, ""))?;
        let nodes = self.registry.list(&actor, root.as_ref(), year).await?;
        Ok(Response::new(pb::ListUnitsResponse {
            units: nodes.iter().map(convert::tree_node_to_pb).collect(),
        }))
    }

    async fn set_signing_key(
        &self,
        request: Request<pb::SetSigningKeyRequest>,
    ) -> Result<Response<pb::SigningKey>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let code =
            convert::code(&request.unit_code, "unit_code").map_err(|v| invalid_argument(v, ""))?;
        let key = (!request.public_key.is_empty()).then_some(request.public_key.as_slice());
        let view = self.registry.set_signing_key(&actor, &code, key).await?;
        Ok(Response::new(pb::SigningKey {
            unit_code: view.unit.to_string(),
            fingerprint: view
                .public_key
                .as_deref()
                .map(signing::fingerprint)
                .unwrap_or_default(),
            public_key: view.public_key.unwrap_or_default(),
        }))
    }
}
