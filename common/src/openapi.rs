//! OpenAPI schemas of the domain values the query API serves (feature `openapi`): the symbol and
//! the frame, which serialise as strings; the bar object derives its schema beside its definition.

use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::{KnownFormat, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::symbol::Symbol;
use crate::time::Frame;

impl PartialSchema for Symbol {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(r"^[0-9]{6}\.(SH|SZ|BJ|sh|sz|bj)$"))
            .description(Some("Six digits and the exchange: .SH, .SZ or .BJ (lower case accepted)."))
            .examples(["600519.SH"])
            .into()
    }
}

impl ToSchema for Symbol {}

impl PartialSchema for Frame {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some("The bar's label (the end of its interval), ISO-8601 with the +08:00 offset."))
            .examples(["2026-11-19T09:31:00+08:00"])
            .into()
    }
}

impl ToSchema for Frame {}
