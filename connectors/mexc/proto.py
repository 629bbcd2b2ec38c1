"""MEXC spot push messages (protobuf), built from descriptors at import.

MEXC spot's websocket sends every data frame as a binary protobuf
``PushDataV3ApiWrapper``. MEXC publishes the message definitions in
github.com/mexcdevelop/websocket-proto; that repository carries no licence,
so its ``.proto`` files are not vendored. This module declares the subset
scanflow decodes with MEXC's own message names, field names, types and
field numbers (the wire interface, needed to interoperate), and builds the
descriptors at import with the ``protobuf`` runtime: no ``protoc``, no
generated ``_pb2`` module, no coupling between generated code and runtime
version. Equivalent proto3 (numbers as published)::

    message PushDataV3ApiWrapper {
      string channel = 1;                    // e.g. spot@public.kline.v3.api.pb@BTCUSDT@Min1
      oneof body {
        PublicSpotKlineV3Api publicSpotKline = 308;
        PublicAggreDealsV3Api publicAggreDeals = 314;
        PublicAggreBookTickerV3Api publicAggreBookTicker = 315;
      }
      optional string symbol = 3;
      optional string symbolId = 4;
      optional int64 createTime = 5;        // ms
      optional int64 sendTime = 6;          // ms
    }
    message PublicSpotKlineV3Api {          // spot@public.kline.v3.api.pb@<symbol>@<interval>
      string interval = 1;                   // Min1, Min5, ...
      int64 windowStart = 2;                 // seconds
      string openingPrice = 3;  string closingPrice = 4;
      string highestPrice = 5;  string lowestPrice = 6;
      string volume = 7;                     // base currency
      string amount = 8;                     // quote currency
      int64 windowEnd = 9;                   // seconds
    }
    message PublicAggreDealsV3Api {          // spot@public.aggre.deals.v3.api.pb@100ms@<symbol>
      repeated PublicAggreDealsV3ApiItem deals = 1;
      string eventType = 2;
    }
    message PublicAggreDealsV3ApiItem {
      string price = 1;  string quantity = 2;
      int32 tradeType = 3;                   // 1 buy, 2 sell (taker)
      int64 time = 4;                        // ms
      string tradeId = 5;                    // newer revisions of the definition; may be absent
    }
    message PublicAggreBookTickerV3Api {     // spot@public.aggre.bookTicker.v3.api.pb@100ms@<symbol>
      string bidPrice = 1;  string bidQuantity = 2;
      string askPrice = 3;  string askQuantity = 4;
    }

The other members of ``body`` (depth, mini tickers, private channels) are
not declared: such a frame decodes with their bytes kept as unknown fields
and ``WhichOneof("body")`` None, and the venue reports it as an unexpected
stream. Field presence is not needed (proto3 defaults: ``""`` / ``0``).
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

__all__ = [
    "DecodeError",
    "PublicAggreBookTickerV3Api",
    "PublicAggreDealsV3Api",
    "PublicAggreDealsV3ApiItem",
    "PublicSpotKlineV3Api",
    "PushDataV3ApiWrapper",
]

_PACKAGE = "scanflow.mexc"
_F = descriptor_pb2.FieldDescriptorProto
STRING, INT32, INT64 = _F.TYPE_STRING, _F.TYPE_INT32, _F.TYPE_INT64

#: message -> [(field, number, type or message name, repeated, oneof index)]
_SCHEMA: dict[str, list[tuple[str, int, int | str, bool, int | None]]] = {
    "PublicSpotKlineV3Api": [
        ("interval", 1, STRING, False, None), ("windowStart", 2, INT64, False, None),
        ("openingPrice", 3, STRING, False, None), ("closingPrice", 4, STRING, False, None),
        ("highestPrice", 5, STRING, False, None), ("lowestPrice", 6, STRING, False, None),
        ("volume", 7, STRING, False, None), ("amount", 8, STRING, False, None),
        ("windowEnd", 9, INT64, False, None),
    ],
    "PublicAggreDealsV3ApiItem": [
        ("price", 1, STRING, False, None), ("quantity", 2, STRING, False, None),
        ("tradeType", 3, INT32, False, None), ("time", 4, INT64, False, None),
        ("tradeId", 5, STRING, False, None),
    ],
    "PublicAggreDealsV3Api": [
        ("deals", 1, "PublicAggreDealsV3ApiItem", True, None), ("eventType", 2, STRING, False, None),
    ],
    "PublicAggreBookTickerV3Api": [
        ("bidPrice", 1, STRING, False, None), ("bidQuantity", 2, STRING, False, None),
        ("askPrice", 3, STRING, False, None), ("askQuantity", 4, STRING, False, None),
    ],
    "PushDataV3ApiWrapper": [
        ("channel", 1, STRING, False, None),
        ("publicSpotKline", 308, "PublicSpotKlineV3Api", False, 0),
        ("publicAggreDeals", 314, "PublicAggreDealsV3Api", False, 0),
        ("publicAggreBookTicker", 315, "PublicAggreBookTickerV3Api", False, 0),
        ("symbol", 3, STRING, False, None), ("symbolId", 4, STRING, False, None),
        ("createTime", 5, INT64, False, None), ("sendTime", 6, INT64, False, None),
    ],
}
_ONEOFS = {"PushDataV3ApiWrapper": ["body"]}


def _file_descriptor() -> descriptor_pb2.FileDescriptorProto:
    f = descriptor_pb2.FileDescriptorProto(name="scanflow/mexc_spot_push.proto", package=_PACKAGE,
                                           syntax="proto3")
    for name, fields in _SCHEMA.items():
        msg = f.message_type.add(name=name)
        for oneof in _ONEOFS.get(name, []):
            msg.oneof_decl.add(name=oneof)
        for field, number, kind, repeated, oneof_index in fields:
            fd = msg.field.add(name=field, number=number, json_name=field,
                               label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL)
            if isinstance(kind, str):
                fd.type = _F.TYPE_MESSAGE
                fd.type_name = f".{_PACKAGE}.{kind}"
            else:
                fd.type = kind
            if oneof_index is not None:
                fd.oneof_index = oneof_index
    return f


_pool = descriptor_pool.DescriptorPool()  # private: never clashes with other MEXC definitions in-process
_pool.Add(_file_descriptor())


def _cls(name: str) -> Any:
    return message_factory.GetMessageClass(_pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))


PushDataV3ApiWrapper = _cls("PushDataV3ApiWrapper")
PublicSpotKlineV3Api = _cls("PublicSpotKlineV3Api")
PublicAggreDealsV3Api = _cls("PublicAggreDealsV3Api")
PublicAggreDealsV3ApiItem = _cls("PublicAggreDealsV3ApiItem")
PublicAggreBookTickerV3Api = _cls("PublicAggreBookTickerV3Api")
