/// The two requests scripts make in loops (`token`, and `get` for `secret get`), written and read
/// without Foundation's JSONEncoder and JSONDecoder: in a process that lives for one call, their first
/// use cost about as much as the rest of the call. The request is the JSON JSONEncoder would write (the
/// same members and values; `AgentFastJSONTests` compares them parsed); an answer is taken here only
/// when it is exactly the compact `{"ok":{...}}` the agent's JSONEncoder writes for a plain result,
/// with one JSON string inside, and goes to JSONDecoder otherwise (errors, anything unexpected).
extension AgentOperations {
    package func fastEnvelope(vault: String) -> [UInt8]? { nil }
    package static func fastResponse(_ answer: [UInt8]) -> Response? { nil }
}

extension AgentRequest {
    package func fastEnvelope(vault: String) -> [UInt8]? {
        guard case .get(let kind, let name) = self else { return nil }
        var out = Array(#"{"request":{"get":{"kind":"#.utf8)
        JSONText.appendInteger(Int64(kind), to: &out)
        out += Array(#","name":"#.utf8)
        JSONText.appendString(name, to: &out)
        out += Array(#"}},"vault":"#.utf8)
        JSONText.appendString(vault, to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    package static func fastResponse(_ answer: [UInt8]) -> AgentResponse? {
        AgentFastJSON.string(in: answer, between: #"{"ok":{"value":{"base64":"#, and: "}}}").map {
            .value(base64: $0)
        }
    }
}

extension AgentTokenRequest {
    package func fastEnvelope(vault: String) -> [UInt8]? {
        guard case .token(let app, let user, let minValid, let force) = self else { return nil }
        var out = Array(#"{"oauth":{"token":{"#.utf8)
        if let app {
            out += Array(#""app":"#.utf8)
            JSONText.appendString(app, to: &out)
            out.append(UInt8(ascii: ","))
        }
        if let user {
            out += Array(#""user":"#.utf8)
            JSONText.appendString(user, to: &out)
            out.append(UInt8(ascii: ","))
        }
        out += Array(#""minValid":"#.utf8)
        JSONText.appendInteger(minValid, to: &out)
        out += Array((force ? #","force":true}},"vault":"# : #","force":false}},"vault":"#).utf8)
        JSONText.appendString(vault, to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    package static func fastResponse(_ answer: [UInt8]) -> AgentTokenResponse? {
        AgentFastJSON.string(in: answer, between: #"{"ok":{"token":{"_0":"#, and: "}}}").map { .token($0) }
    }
}

enum AgentFastJSON {
    /// The JSON string that is all of `answer` between `prefix` and `suffix`; nil when the answer is
    /// anything else.
    static func string(in answer: [UInt8], between prefix: StaticString, and suffix: StaticString) -> String? {
        let head = UnsafeRawBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount)
        let tail = UnsafeRawBufferPointer(start: suffix.utf8Start, count: suffix.utf8CodeUnitCount)
        guard answer.count > head.count + tail.count, answer.starts(with: head),
            answer[(answer.count - tail.count)...].elementsEqual(tail)
        else { return nil }
        return answer.withUnsafeBytes { raw -> String? in
            let middle = UnsafeRawBufferPointer(rebasing: raw[head.count..<(raw.count - tail.count)])
            var scanner = JSONScanner(middle)
            guard let text = try? scanner.readString(), scanner.peek() == nil else { return nil }
            return text
        }
    }
}
