# Replayed verbatim from the DeepInfra OpenAI-compatible API docs (../shared/seeds/001_*.txt).
curl "https://api.deepinfra.com/v1/openai/chat/completions" \
  -H "Content-Type: application/json" \
  -H "Authorization: Bearer $DEEPINFRA_TOKEN" \
  -d '{
      "model": "meta-llama/Llama-2-7b-chat-hf",
      "messages": [
        {
          "role": "user",
          "content": "Hello!"
        }
      ]
    }'
