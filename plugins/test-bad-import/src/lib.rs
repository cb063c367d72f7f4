//! A transform of the current contract that also imports `weir:plugin/secrets`,
//! an interface the host does not provide.

wit_bindgen::generate!({
    inline: "
        package weir:plugin@0.3.0;
        interface secrets {
            get: func(name: string) -> string;
        }
        interface transform-api {
            init: func(config: string) -> result<_, string>;
        }
        world transform {
            import secrets;
            export transform-api;
        }
    ",
});

struct BadImport;

impl exports::weir::plugin::transform_api::Guest for BadImport {
    fn init(_config: String) -> Result<(), String> {
        let _ = weir::plugin::secrets::get("api-key");
        Ok(())
    }
}

export!(BadImport);
