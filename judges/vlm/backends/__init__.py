"""VLM client providers behind one interface (see base.py). Nothing is built at import."""

from judges.vlm.backends.base import (
                                      Constraint,
                                      TokenLogprobs,
                                      VLMClient,
                                      VLMRequest,
                                      VLMResponse,
                                      image_data_url,
                                      make_client,
)

__all__ = ["Constraint", "TokenLogprobs", "VLMClient", "VLMRequest", "VLMResponse", "image_data_url",
           "make_client"]
