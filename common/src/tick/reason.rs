//! Why a tick, or a stream entry, was dead-lettered: one code per way the tick boundary (the
//! stream's payloads, tick files and tables, the producer's own rules) refuses input, named on the
//! wire as the dead letter's `reason`, the metrics' `reason` label and the monitors' counts.

crate::wire_codes! {
    /// The reason of a tick's dead letter.
    pub enum DeadReason {
        /// A stream entry with no field at all.
        EmptyEntry => "empty_entry",
        /// A field other than the contract's `tick` and `qmt`.
        UnknownField => "unknown_field",
        /// A payload that is not JSON (or not UTF-8).
        BadJson => "bad_json",
        /// JSON, but a field holds what the contract does not accept there.
        BadField => "bad_field",
        MissingField => "missing_field",
        BadNumber => "bad_number",
        BadSymbol => "bad_symbol",
        BadTime => "bad_time",
        /// A price that is zero, negative or not on the 0.0001 grid.
        BadPrice => "bad_price",
        NegativeAmount => "negative_amount",
        /// A volume, amount or price beyond what a bar can hold.
        OutOfBounds => "out_of_bounds",
        /// A time outside 2000..2100.
        ImplausibleTime => "implausible_time",
        /// A day beyond the holiday list under `calendar.beyond_list = "refuse"`.
        OutsideCalendar => "outside_calendar",
        /// A tick table whose header names no usable columns.
        BadHeader => "bad_header",
        /// A row of a tick file that cannot be read at all (bad CSV, bad UTF-8, a column of a type
        /// no tick field takes).
        BadRow => "bad_row",
        /// A tick `producer build` cannot fit into the bars of its day.
        DoesNotFit => "does_not_fit",
        /// Stamped later than the producer's wall clock allows.
        AheadOfClock => "ahead_of_clock",
        /// A symbol another producer shard owns.
        WrongShard => "wrong_shard",
    }
}
