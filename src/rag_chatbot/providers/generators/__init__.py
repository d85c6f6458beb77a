"""Language models behind one small interface (see ``base.ChatModel`` for the contract).

- ``OpenAIChatModel``: any OpenAI-compatible chat completions server (OpenAI, vLLM, Ollama,
  llama.cpp, LM Studio), through the official ``openai`` SDK.
- ``GeminiChatModel``: Google's Gemini API, through ``google-genai``.

Each module imports its SDK when a model is built, so importing this package loads neither.
The grounded prompt, citation checks and fallback live in ``rag_chatbot.answering``.
"""
