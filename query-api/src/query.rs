//! The bar query: a checked query, the plan of which store serves which days, both stores read
//! concurrently (each only for the days it serves), and their bars merged into one series.

use crate::app::App;
use crate::error::Result;
use crate::merge::{merge, Series};
use crate::params::BarsQuery;
use crate::plan::plan;

/// The merged series `q` asks for.
pub async fn series(app: &App, q: &BarsQuery) -> Result<Series> {
    let held = app.same_day.days_held().await?;
    let plan = plan(q.start, q.end, &held, &app.calendar);
    let redis = async {
        if plan.redis_days.is_empty() {
            return Ok(Vec::new());
        }
        app.same_day.bars(&plan.redis_days, (q.symbol, q.period), (q.start, q.end), q.include_forming).await
    };
    let history = async {
        match plan.clickhouse {
            Some(range) => app.history.bars(q.symbol, q.period, range).await,
            None => Ok(Vec::new()),
        }
    };
    let (redis, history) = tokio::join!(redis, history);
    Ok(merge(redis?, history?))
}
