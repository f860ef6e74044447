use ipra_plugin_sdk::bindings::exports::*;
