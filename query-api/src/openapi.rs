//! The OpenAPI document of every `/api` endpoint, generated from the handlers and their types,
//! with the optional bearer token described once for all of them.

use common::instrument::Instrument;
use common::session::Phase;
use common::Bar;
use utoipa::OpenApi;

use crate::answer::{BarsAnswer, BarsHead, BarsResponse, KeyedBarsResponse, SpanHead, SymbolBars};
use crate::api::{
    __path_bars, __path_instruments, __path_is_trading_day, __path_market_phase, __path_next_trading_day,
    __path_snapshot, __path_stream_bars, __path_ticks, __path_trading_days, Instruments, IsTradingDay, MarketPhase,
    NextDay, NextPhase, TradingDays,
};
use crate::error::{ErrorBody, ErrorDetail};
use crate::served::{Served, Sources};
use crate::snapshot::{Snapshot, SnapshotHead};
use crate::ticks::{TickObject, TicksAnswer};

/// The OpenAPI document of every endpoint.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "tickbar query API",
        description = "Same-day A-share bars from Redis merged with ClickHouse history, the archived ticks, \
                       live bars, and the trading calendar. When the service has `api.token` set, every `/api` route needs \
                       `Authorization: Bearer <token>`."
    ),
    paths(bars, snapshot, ticks, instruments, stream_bars, trading_days, is_trading_day, next_trading_day, market_phase),
    components(schemas(Instruments, Instrument, TicksAnswer, TickObject, BarsAnswer, BarsResponse, BarsHead, KeyedBarsResponse, SpanHead, SymbolBars, Snapshot, SnapshotHead, Sources, Served, Bar, ErrorBody, ErrorDetail, TradingDays, IsTradingDay, NextDay, MarketPhase, NextPhase, Phase)),
    modifiers(&BearerAuth),
    security((), ("bearer" = [])),
    tags((name = "bars", description = "Bars of symbols and a period, and snapshots of the market"), (name = "ticks", description = "The archived ticks"), (name = "instruments", description = "The instrument list"), (name = "calendar", description = "The A-share trading calendar"))
)]
pub struct ApiDoc;

/// The optional bearer token: its scheme, and its 401 answer on every operation (the token guards
/// every `/api` route, so the document says so in one place).
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build();
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
        let unauthorized = ResponseBuilder::new()
            .description("`api.token` is set and the request does not carry it")
            .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
            .build();
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ];
            for operation in operations.into_iter().flatten() {
                operation.responses.responses.insert("401".into(), unauthorized.clone().into());
            }
        }
    }
}

/// The document as served at `/openapi.json`.
pub fn document() -> String {
    ApiDoc::openapi().to_pretty_json().expect("the OpenAPI document serializes")
}
