//! A transform built against a future major version of the contract.

wit_bindgen::generate!({
    inline: "
        package weir:plugin@9.0.0;
        interface transform-api {
            init: func(config: string) -> result<_, string>;
            process: func(input: list<u8>) -> result<list<u8>, string>;
        }
        world transform { export transform-api; }
    ",
});

struct Future;

impl exports::weir::plugin::transform_api::Guest for Future {
    fn init(_config: String) -> Result<(), String> {
        Ok(())
    }
    fn process(input: Vec<u8>) -> Result<Vec<u8>, String> {
        Ok(input)
    }
}

export!(Future);
